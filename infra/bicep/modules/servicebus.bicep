// Service Bus: the job queue that starts the GPU job (KEDA scaler) and the stage-event topic the
// orchestrator reads. SAS keys are off (disableLocalAuth): senders and receivers use Entra ID.

param location string
param tags object
param name string
param jobQueueName string
param eventTopicName string
param eventSubscriptionName string

@description('How many times a job message may be delivered before it is dead-lettered.')
param jobMaxDeliveryCount int = 5

resource namespace 'Microsoft.ServiceBus/namespaces@2024-01-01' = {
  name: name
  location: location
  tags: tags
  // Standard: topics and subscriptions (Basic has none); sessions and duplicate detection.
  sku: {
    name: 'Standard'
    tier: 'Standard'
  }
  properties: {
    disableLocalAuth: true
    minimumTlsVersion: '1.2'
    publicNetworkAccess: 'Enabled'
  }
}

// The GPU job receives its message and settles it early (DESIGN.md section 5), so the lock only has
// to cover start-up; PT5M is the Service Bus maximum.
resource jobQueue 'Microsoft.ServiceBus/namespaces/queues@2024-01-01' = {
  parent: namespace
  name: jobQueueName
  properties: {
    lockDuration: 'PT5M'
    maxDeliveryCount: jobMaxDeliveryCount
    deadLetteringOnMessageExpiration: true
    defaultMessageTimeToLive: 'P7D'
    // A dispatch activity that is retried sends the same MessageId; the duplicate is dropped.
    requiresDuplicateDetection: true
    duplicateDetectionHistoryTimeWindow: 'PT1H'
    requiresSession: false
    enablePartitioning: false
  }
}

resource eventTopic 'Microsoft.ServiceBus/namespaces/topics@2024-01-01' = {
  parent: namespace
  name: eventTopicName
  properties: {
    defaultMessageTimeToLive: 'P7D'
    // Events carry a MessageId per (run, stage, sequence): a republished event is dropped.
    requiresDuplicateDetection: true
    duplicateDetectionHistoryTimeWindow: 'PT1H'
    enablePartitioning: false
    supportOrdering: true
  }
}

// One session per run (SessionId = runId): the orchestrator drains one run's events in order.
resource eventSubscription 'Microsoft.ServiceBus/namespaces/topics/subscriptions@2024-01-01' = {
  parent: eventTopic
  name: eventSubscriptionName
  properties: {
    requiresSession: true
    lockDuration: 'PT1M'
    maxDeliveryCount: 10
    deadLetteringOnMessageExpiration: true
    deadLetteringOnFilterEvaluationExceptions: true
    defaultMessageTimeToLive: 'P7D'
  }
}

output name string = namespace.name
output id string = namespace.id
// Fully qualified namespace ({name}.servicebus.windows.net), taken from the endpoint Azure reports
// ("https://{name}.servicebus.windows.net:443/") so no cloud-specific host name is written here.
output fullyQualifiedNamespace string = split(split(split(namespace.properties.serviceBusEndpoint, '//')[1], '/')[0], ':')[0]
output jobQueueName string = jobQueue.name
output eventTopicName string = eventTopic.name
output eventSubscriptionName string = eventSubscription.name
