// Every role assignment RMT needs, each at the narrowest scope the code allows. Built-in role ids
// are fixed across Azure; each is named next to its id.
//
//   Functions identity  storage account   Storage Blob Data Owner         host (keys, leases, timers), artifacts, deployment package;
//                                                                         Owner is the documented minimum for a Functions host's
//                                                                         storage by identity (Functions docs, Flex Consumption samples)
//                       storage account   Storage Queue Data Contributor  durable control and work-item queues
//                       storage account   Storage Table Data Contributor  durable history and instance tables
//                       job queue         Azure Service Bus Data Sender   dispatches stage jobs
//                       event topic       Azure Service Bus Data Receiver drains stage events (subscription "orchestrator")
//                       App Insights      Monitoring Metrics Publisher    telemetry with Entra ID (local auth is off)
//   GPU job identity    datasets          Storage Blob Data Reader        reads its input; a trainer never changes a dataset
//                       checkpoints, runs Storage Blob Data Contributor   checkpoints, reports, claims, cancel marker (not the host's containers)
//                       job queue         Azure Service Bus Data Receiver receives and settles its job message
//                       event topic       Azure Service Bus Data Sender   publishes stage events
//                       registry          AcrPull                         pulls the trainer image
//                       App Insights      Monitoring Metrics Publisher    exports its spans and training metrics with Entra ID
//   Scaler identity     job queue         Azure Service Bus Data Owner    KEDA reads the queue's message count, which Service Bus
//                                                                         grants only with Manage rights (Data Owner); scoped to
//                                                                         this one queue
//   Deploying user      3 containers      Storage Blob Data Contributor   optional (principalId): upload datasets, read reports
//
// The GPU job identity gets no queue or table role: with RMT_SERVICEBUS_NAMESPACE set, jobs and events
// go over Service Bus, and the job never touches the durable backend.

param storageAccountName string
param artifactContainers array

@description('The artifact container the trainer only reads (Rmt.Contracts.BlobLayout.DatasetsContainer).')
param datasetsContainer string = 'datasets'
param serviceBusName string
param jobQueueName string
param eventTopicName string
param registryName string
param appInsightsName string
param functionsPrincipalId string
param jobPrincipalId string
param scalerPrincipalId string

@description('Object id of a user, group or service principal to grant blob access to the artifact containers; empty for none.')
param userPrincipalId string = ''

@description('Type of userPrincipalId. Empty: left out of the assignment, and Azure detects it (a CI login is a service principal, not a user).')
@allowed([
  ''
  'User'
  'Group'
  'ServicePrincipal'
])
param userPrincipalType string = ''

var roles = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b' // Storage Blob Data Owner
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe' // Storage Blob Data Contributor
  storageBlobDataReader: '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1' // Storage Blob Data Reader
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88' // Storage Queue Data Contributor
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3' // Storage Table Data Contributor
  serviceBusDataSender: '69a216fc-b8fb-44d8-bc22-1f3c2cd27a39' // Azure Service Bus Data Sender
  serviceBusDataReceiver: '4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0' // Azure Service Bus Data Receiver
  serviceBusDataOwner: '090c5cfd-751d-490a-894a-3ce6f1109419' // Azure Service Bus Data Owner
  acrPull: '7f951dda-4ed3-4680-a7ca-43fe172d538d' // AcrPull
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb' // Monitoring Metrics Publisher
}

resource storage 'Microsoft.Storage/storageAccounts@2025-01-01' existing = {
  name: storageAccountName

  resource blobService 'blobServices' existing = {
    name: 'default'
  }
}

resource containers 'Microsoft.Storage/storageAccounts/blobServices/containers@2025-01-01' existing = [
  for container in artifactContainers: {
    parent: storage::blobService
    name: container
  }
]

resource serviceBus 'Microsoft.ServiceBus/namespaces@2024-01-01' existing = {
  name: serviceBusName

  resource jobQueue 'queues' existing = {
    name: jobQueueName
  }

  resource eventTopic 'topics' existing = {
    name: eventTopicName
  }
}

resource registry 'Microsoft.ContainerRegistry/registries@2025-04-01' existing = {
  name: registryName
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

// ---------------------------------------------------------------- Functions identity

resource functionsStorage 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for role in [
    roles.storageBlobDataOwner
    roles.storageQueueDataContributor
    roles.storageTableDataContributor
  ]: {
    name: guid(storage.id, functionsPrincipalId, role)
    scope: storage
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role)
      principalId: functionsPrincipalId
      principalType: 'ServicePrincipal'
    }
  }
]

resource functionsJobSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(serviceBus::jobQueue.id, functionsPrincipalId, roles.serviceBusDataSender)
  scope: serviceBus::jobQueue
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.serviceBusDataSender)
    principalId: functionsPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource functionsEventReceiver 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(serviceBus::eventTopic.id, functionsPrincipalId, roles.serviceBusDataReceiver)
  scope: serviceBus::eventTopic
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.serviceBusDataReceiver)
    principalId: functionsPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource functionsTelemetry 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appInsights.id, functionsPrincipalId, roles.monitoringMetricsPublisher)
  scope: appInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.monitoringMetricsPublisher)
    principalId: functionsPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// ---------------------------------------------------------------- GPU job identity

// Read-only on datasets, read-write on the other artifact containers.
resource jobBlobs 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for (container, i) in artifactContainers: {
    name: guid(containers[i].id, jobPrincipalId, container == datasetsContainer ? roles.storageBlobDataReader : roles.storageBlobDataContributor)
    scope: containers[i]
    properties: {
      roleDefinitionId: subscriptionResourceId(
        'Microsoft.Authorization/roleDefinitions',
        container == datasetsContainer ? roles.storageBlobDataReader : roles.storageBlobDataContributor
      )
      principalId: jobPrincipalId
      principalType: 'ServicePrincipal'
    }
  }
]

resource jobQueueReceiver 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(serviceBus::jobQueue.id, jobPrincipalId, roles.serviceBusDataReceiver)
  scope: serviceBus::jobQueue
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.serviceBusDataReceiver)
    principalId: jobPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource jobEventSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(serviceBus::eventTopic.id, jobPrincipalId, roles.serviceBusDataSender)
  scope: serviceBus::eventTopic
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.serviceBusDataSender)
    principalId: jobPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource jobImagePull 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(registry.id, jobPrincipalId, roles.acrPull)
  scope: registry
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.acrPull)
    principalId: jobPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource jobTelemetry 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appInsights.id, jobPrincipalId, roles.monitoringMetricsPublisher)
  scope: appInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.monitoringMetricsPublisher)
    principalId: jobPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// ---------------------------------------------------------------- KEDA scaler identity

resource scalerQueueOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(serviceBus::jobQueue.id, scalerPrincipalId, roles.serviceBusDataOwner)
  scope: serviceBus::jobQueue
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.serviceBusDataOwner)
    principalId: scalerPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// ---------------------------------------------------------------- deploying user (optional)

resource userBlobs 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for (container, i) in (empty(userPrincipalId) ? [] : artifactContainers): {
    name: guid(containers[i].id, userPrincipalId, roles.storageBlobDataContributor)
    scope: containers[i]
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
      principalId: userPrincipalId
      principalType: empty(userPrincipalType) ? null : userPrincipalType
    }
  }
]
