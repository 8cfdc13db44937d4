// The storage account: RMT's artifacts (blob containers datasets, checkpoints, runs), the Functions
// host and the durable backend (DurableTask.AzureStorage keeps its control/work-item queues and its
// history/instance tables here, and creates them itself on start), and the Flex Consumption
// deployment package container. Keys are off (allowSharedKeyAccess: false): every caller uses
// Microsoft Entra ID through a managed identity.

param location string
param tags object
param name string

@description('Blob container that holds the Functions app package (Flex Consumption deployment storage).')
param deploymentContainerName string

@description('RMT artifact containers (Rmt.Contracts.BlobLayout.Containers).')
param artifactContainers array = [
  'datasets'
  'checkpoints'
  'runs'
]

resource storage 'Microsoft.Storage/storageAccounts@2025-01-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: { name: 'Standard_LRS' }
  properties: {
    accessTier: 'Hot'
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2025-01-01' = {
  parent: storage
  name: 'default'
  properties: {
    // Checkpoints and reports are the product of GPU hours: keep deleted blobs for a week.
    deleteRetentionPolicy: {
      enabled: true
      days: 7
    }
    containerDeleteRetentionPolicy: {
      enabled: true
      days: 7
    }
  }
}

resource containers 'Microsoft.Storage/storageAccounts/blobServices/containers@2025-01-01' = [
  for container in concat(artifactContainers, [deploymentContainerName]): {
    parent: blobService
    name: container
    properties: {
      publicAccess: 'None'
    }
  }
]

// Queue and table services of the durable backend (Azure Storage provider). The task hub's queues and
// tables are created by the Functions host on start, named after the hub (app setting
// AzureFunctionsJobHost__extensions__durableTask__hubName in functions.bicep).
resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2025-01-01' = {
  parent: storage
  name: 'default'
}

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2025-01-01' = {
  parent: storage
  name: 'default'
}

output name string = storage.name
output id string = storage.id
output blobServiceUri string = storage.properties.primaryEndpoints.blob
output queueServiceUri string = storage.properties.primaryEndpoints.queue
output tableServiceUri string = storage.properties.primaryEndpoints.table
output deploymentContainerUri string = '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
output artifactContainers array = artifactContainers
