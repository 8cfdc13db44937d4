using DurableTask.Core;
using DurableTask.Core.History;
using Google.Protobuf.Collections;
using Rmt.Local.Hosting;

namespace Rmt.Local.Tests.Hosting;

/// <summary>The two conversions that let the gRPC sidecar store its work in DurableTask.AzureStorage.</summary>
public sealed class SidecarHistoryAdapterTests
{
    private sealed class TracedCreatedEvent(int id) : SubOrchestrationInstanceCreatedEvent(id)
    {
        public string? Trace { get; set; }
    }

    [Fact]
    public void The_sidecar_adapter_stores_sub_orchestration_events_as_the_plain_core_type_with_plain_tags()
    {
        var state = new OrchestrationRuntimeState();
        var started = new ExecutionStartedEvent(-1, "{}") { OrchestrationInstance = new OrchestrationInstance { InstanceId = "r", ExecutionId = "e" }, Name = "p" };
        state.AddEvent(new OrchestratorStartedEvent(-1));
        state.AddEvent(started);
        var created = new TracedCreatedEvent(3)
        {
            Name = "RmtStage_v1", InstanceId = "r:pretrain:1", Input = "{\"a\":1}", Trace = "00-x",
            Tags = new MapField<string, string> { ["k"] = "v" },
        };
        state.AddEvent(created);

        SidecarHistoryAdapter.Normalize(state);

        var stored = state.NewEvents.OfType<SubOrchestrationInstanceCreatedEvent>().Single();
        Assert.Equal(typeof(SubOrchestrationInstanceCreatedEvent), stored.GetType());
        Assert.Equal((3, "RmtStage_v1", "r:pretrain:1", "{\"a\":1}"), (stored.EventId, stored.Name, stored.InstanceId, stored.Input));
        Assert.IsType<Dictionary<string, string>>(stored.Tags);
        Assert.Equal("v", stored.Tags!["k"]);
        Assert.Same(stored, state.Events.OfType<SubOrchestrationInstanceCreatedEvent>().Single());
        Assert.Same(started, state.NewEvents.OfType<ExecutionStartedEvent>().Single()); // others untouched
    }

    [Fact]
    public void Queue_messages_name_protobuf_tag_maps_as_a_dictionary_and_other_types_as_themselves()
    {
        var binder = new ProtobufMapTypeBinder();

        binder.BindToName(typeof(MapField<string, string>), out var mapAssembly, out var mapType);
        binder.BindToName(typeof(TaskMessage), out var messageAssembly, out var messageType);

        Assert.Equal(typeof(Dictionary<string, string>), binder.BindToType(mapAssembly, mapType));
        Assert.Equal(typeof(Dictionary<string, string>), binder.BindToType("Google.Protobuf", typeof(MapField<string, string>).FullName!));
        Assert.Equal(typeof(TaskMessage), binder.BindToType(messageAssembly, messageType));
    }
}
