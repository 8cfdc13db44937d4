// The Container Apps environment with a serverless GPU workload profile, and the trainer job
// (Rmt.GpuJob image). A message on the job queue starts one execution (trigger type Event, KEDA
// azure-servicebus scaler authenticated with a managed identity, no connection string); the container
// receives that message itself, settles it early, trains, and publishes stage events.
// Its environment variables are the contract in Rmt.Contracts.RmtSettings.GpuJob; tests/Rmt.Infra.Tests
// checks them in the compiled template.

param location string
param tags object
param environmentName string
param jobName string
param logAnalyticsWorkspaceId string

@description('Serverless GPU profile type. Availability differs by region; see docs/deploy.md.')
@allowed([
  'Consumption-GPU-NC24-A100'
  'Consumption-GPU-NC8as-T4'
])
param gpuProfileType string

@description('Image of the trainer (built from src/Rmt.GpuJob/Dockerfile.cuda by azd deploy).')
param image string

param registryLoginServer string

@description('Resource id of the identity the trainer runs as (storage, Service Bus, image pull).')
param jobIdentityId string
param jobIdentityClientId string

@description('Resource id of the identity the KEDA scale rule uses to read the job queue length.')
param scalerIdentityId string

param blobServiceUri string
param queueServiceUri string
param serviceBusName string
param serviceBusNamespace string
param jobQueueName string
param eventTopicName string

@description('Application Insights component the trainer exports its spans and metrics to (with its identity).')
param appInsightsName string

@description('Longest a training execution may run, in seconds (default 24 h).')
@minValue(600)
param replicaTimeoutSeconds int

@description('Platform retries of a failed replica within one execution (bounded: each retry is GPU time).')
@minValue(1)
@maxValue(3)
param replicaRetryLimit int = 1

@description('Concurrent GPU executions (each holds one GPU). Bounded by your serverless GPU quota.')
@minValue(1)
@maxValue(10)
param maxExecutions int

// Per-replica size of each serverless GPU profile: the whole GPU node (one GPU).
var gpuReplicaSize = {
  'Consumption-GPU-NC24-A100': {
    cpu: 24
    memory: '220Gi'
  }
  'Consumption-GPU-NC8as-T4': {
    cpu: 8
    memory: '56Gi'
  }
}
var gpuProfileName = 'gpu'

resource logAnalytics 'Microsoft.OperationalInsights/workspaces@2023-09-01' existing = {
  name: last(split(logAnalyticsWorkspaceId, '/'))
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

resource environment 'Microsoft.App/managedEnvironments@2025-01-01' = {
  name: environmentName
  location: location
  tags: tags
  properties: {
    // Logs go through the diagnostic setting below (Entra ID), not the workspace's shared key.
    appLogsConfiguration: {
      destination: 'azure-monitor'
    }
    // A GPU workload profile can only be added when the environment is created.
    workloadProfiles: [
      {
        name: 'Consumption'
        workloadProfileType: 'Consumption'
      }
      {
        name: gpuProfileName
        workloadProfileType: gpuProfileType
      }
    ]
  }
}

resource environmentLogs 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'logs-to-workspace'
  scope: environment
  properties: {
    workspaceId: logAnalytics.id
    logs: [
      {
        categoryGroup: 'allLogs'
        enabled: true
      }
    ]
  }
}

resource job 'Microsoft.App/jobs@2025-01-01' = {
  name: jobName
  location: location
  // azd deploys the "gpujob" service of azure.yaml (the trainer image) to the job carrying this tag.
  tags: union(tags, { 'azd-service-name': 'gpujob' })
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${jobIdentityId}': {}
      '${scalerIdentityId}': {}
    }
  }
  properties: {
    environmentId: environment.id
    workloadProfileName: gpuProfileName
    configuration: {
      triggerType: 'Event'
      replicaTimeout: replicaTimeoutSeconds
      // One platform retry, for a replica that failed before it received its message (a transient
      // start, identity or network failure): the retry receives the same message. A replica that
      // fails after receiving leaves the message locked; it comes back after the lock (delivery
      // count + 1) and is dead-lettered after the queue's maxDeliveryCount, so crashes after receive
      // are bounded. Crashes before receive (an image that never starts) are not: the message stays
      // active and KEDA starts an execution every polling interval, which the failed-executions
      // alert (alerts.bicep) reports. Stage retries are the orchestrator's (attempt + 1), and a
      // restarted stage resumes from its newest checkpoint.
      replicaRetryLimit: replicaRetryLimit
      eventTriggerConfig: {
        parallelism: 1
        replicaCompletionCount: 1
        scale: {
          minExecutions: 0
          maxExecutions: maxExecutions
          pollingInterval: 30
          rules: [
            {
              name: 'job-queue'
              type: 'azure-servicebus'
              metadata: {
                namespace: serviceBusName
                queueName: jobQueueName
                messageCount: '1'
              }
              identity: scalerIdentityId
            }
          ]
        }
      }
      // The scaler's identity (Service Bus Data Owner on the queue) is for KEDA only: lifecycle None
      // keeps it out of the container, so the trainer cannot request its tokens. The job identity is
      // the container's (storage, Service Bus, image pull).
      identitySettings: [
        {
          identity: scalerIdentityId
          lifecycle: 'None'
        }
        {
          identity: jobIdentityId
          lifecycle: 'All'
        }
      ]
      registries: [
        {
          server: registryLoginServer
          identity: jobIdentityId
        }
      ]
    }
    template: {
      containers: [
        {
          name: 'trainer'
          image: image
          resources: {
            cpu: gpuReplicaSize[gpuProfileType].cpu
            memory: gpuReplicaSize[gpuProfileType].memory
          }
          // Rmt.Contracts.RmtSettings.GpuJob
          env: [
            { name: 'RMT_BLOB_SERVICE_URI', value: blobServiceUri }
            { name: 'RMT_QUEUE_SERVICE_URI', value: queueServiceUri }
            { name: 'RMT_SERVICEBUS_NAMESPACE', value: serviceBusNamespace }
            { name: 'RMT_JOB_QUEUE', value: jobQueueName }
            { name: 'RMT_EVENT_TOPIC', value: eventTopicName }
            { name: 'AZURE_CLIENT_ID', value: jobIdentityClientId }
            { name: 'RMT_DEVICE', value: 'cuda' }
            // Spans and metrics to Azure Monitor with the job identity (Monitoring Metrics Publisher);
            // not a secret: the component refuses key-only ingestion.
            { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: appInsights.properties.ConnectionString }
          ]
        }
      ]
    }
  }
}

output environmentName string = environment.name
output jobName string = job.name
output jobId string = job.id
