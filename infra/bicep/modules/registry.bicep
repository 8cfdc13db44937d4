// Container registry for the GPU job image. The admin user is off: the job pulls with its managed
// identity (AcrPull, roles.bicep); pushes use the deploying user's Entra ID (az acr build / login).

param location string
param tags object
param name string

resource registry 'Microsoft.ContainerRegistry/registries@2025-04-01' = {
  name: name
  location: location
  tags: tags
  sku: { name: 'Basic' }
  properties: {
    adminUserEnabled: false
    anonymousPullEnabled: false
    publicNetworkAccess: 'Enabled'
  }
}

output name string = registry.name
output loginServer string = registry.properties.loginServer
