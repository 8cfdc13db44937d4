// One user-assigned managed identity. RMT uses three (see main.bicep): the Functions app's, the GPU
// job's, and the one the job's KEDA scale rule uses to read the job queue's length.

param location string
param tags object
param name string

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output name string = identity.name
output clientId string = identity.properties.clientId
output principalId string = identity.properties.principalId
