namespace Rmt.Contracts;

/// <summary>A message or artifact that does not satisfy its contract. The message names the document
/// and the field, and says how to fix it.</summary>
public sealed class ContractException : Exception
{
    public ContractException(string message) : base(message) { }
    public ContractException(string message, Exception inner) : base(message, inner) { }
    public ContractException() { }
}
