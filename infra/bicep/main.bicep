// RMT on Azure: everything `azd up` provisions (docs/deploy.md).
//
//   HTTP / timer -> Functions app (Flex Consumption, durable orchestrations)
//                     -> Service Bus queue rmt-jobs -> Container Apps job on a serverless GPU (trainer)
//                     <- Service Bus topic rmt-stage-events (session per run) <-
//                     <-> Blob Storage: datasets, checkpoints, runs
//
// Managed identities everywhere: storage shared keys, Service Bus SAS keys, the registry admin user
// and Application Insights / Log Analytics local auth are all off. No key or connection string is
// read, output or stored (tests/Rmt.Infra.Tests checks the compiled template).

targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('azd environment name; names the resource group and seeds every resource name.')
param environmentName string

@minLength(1)
@description('Region of every resource. It must offer the chosen serverless GPU profile (docs/deploy.md).')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Serverless GPU workload profile of the trainer job.')
@allowed([
  'Consumption-GPU-NC24-A100'
  'Consumption-GPU-NC8as-T4'
])
param gpuProfileType string = 'Consumption-GPU-NC24-A100'

@description('Trainer image. The placeholder lets the first provision succeed before the image is built; azd deploy (service gpujob) builds src/Rmt.GpuJob/Dockerfile.cuda and records it as SERVICE_GPUJOB_IMAGE_NAME.')
param gpuJobImage string = 'mcr.microsoft.com/k8se/quickstart-jobs:latest'

@description('Longest a training execution may run, in seconds.')
@minValue(600)
param gpuReplicaTimeoutSeconds int = 86400

@description('GPU executions that may run at once (each holds one GPU).')
@minValue(1)
@maxValue(10)
param gpuMaxExecutions int = 1

@description('NCRONTAB (6 fields, UTC) of scheduled retraining; the default is Sundays 03:00.')
param scheduleCron string = '0 0 3 * * 0'

@description('PipelineRequest JSON submitted by the schedule (Rmt.Contracts.PipelineRequest).')
param scheduleRequest string = '{"datasets":{"midTrain":"datasets/demo/corpus.txt","postTrain":"datasets/gsm8k/train.jsonl"}}'

@description('Email that receives cost and failure alerts (azd environment value RMT_ALERT_EMAIL). Empty: the budget notifies the resource group Owners and alerts show only in the portal.')
param alertEmail string = ''

@description('Monthly budget of the resource group in the billing currency (notifies at 80% and 100% actual, 100% forecast; stops nothing).')
@minValue(1)
param monthlyBudget int = 500

@description('First day of the budget period (yyyy-MM-01, azd environment value RMT_BUDGET_START_DATE, which the preprovision hook pins on the first provision). Empty: the current month.')
param budgetStartDate string = ''

@description('The current month at deployment time; only the fallback of budgetStartDate (utcNow is allowed only as a parameter default).')
param deploymentMonth string = utcNow('yyyy-MM-01')

@description('Object id of the deploying user (azd sets AZURE_PRINCIPAL_ID): gets blob access to the artifact containers. Empty for none.')
param principalId string = ''

@description('Type of principalId (azd environment value AZURE_PRINCIPAL_TYPE, set by the preprovision hook from the signed-in account). Empty: Azure detects it, so a CI login as a service principal works too.')
@allowed([
  ''
  'User'
  'Group'
  'ServicePrincipal'
])
param principalType string = ''

var abbrs = loadJsonContent('abbreviations.json')
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
  application: 'rmt'
}

// Names of the messaging entities: the defaults in Rmt.Contracts.RmtSettings.
var jobQueueName = 'rmt-jobs'
var eventTopicName = 'rmt-stage-events'
var eventSubscriptionName = 'orchestrator'
var functionAppName = '${abbrs.webSitesFunctions}${resourceToken}'

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: '${abbrs.resourcesResourceGroups}${environmentName}'
  location: location
  tags: tags
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    location: location
    tags: tags
    logAnalyticsName: '${abbrs.operationalInsightsWorkspaces}${resourceToken}'
    appInsightsName: '${abbrs.insightsComponents}${resourceToken}'
  }
}

module functionsIdentity 'modules/identity.bicep' = {
  name: 'functions-identity'
  scope: rg
  params: {
    location: location
    tags: tags
    name: '${abbrs.managedIdentityUserAssignedIdentities}func-${resourceToken}'
  }
}

module jobIdentity 'modules/identity.bicep' = {
  name: 'job-identity'
  scope: rg
  params: {
    location: location
    tags: tags
    name: '${abbrs.managedIdentityUserAssignedIdentities}job-${resourceToken}'
  }
}

module scalerIdentity 'modules/identity.bicep' = {
  name: 'scaler-identity'
  scope: rg
  params: {
    location: location
    tags: tags
    name: '${abbrs.managedIdentityUserAssignedIdentities}scaler-${resourceToken}'
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    location: location
    tags: tags
    name: '${abbrs.storageStorageAccounts}${resourceToken}'
    deploymentContainerName: 'app-package-${resourceToken}'
  }
}

module serviceBus 'modules/servicebus.bicep' = {
  name: 'servicebus'
  scope: rg
  params: {
    location: location
    tags: tags
    name: '${abbrs.serviceBusNamespaces}${resourceToken}'
    jobQueueName: jobQueueName
    eventTopicName: eventTopicName
    eventSubscriptionName: eventSubscriptionName
  }
}

module registry 'modules/registry.bicep' = {
  name: 'registry'
  scope: rg
  params: {
    location: location
    tags: tags
    name: '${abbrs.containerRegistryRegistries}${resourceToken}'
  }
}

module roles 'modules/roles.bicep' = {
  name: 'roles'
  scope: rg
  params: {
    storageAccountName: storage.outputs.name
    artifactContainers: storage.outputs.artifactContainers
    serviceBusName: serviceBus.outputs.name
    jobQueueName: serviceBus.outputs.jobQueueName
    eventTopicName: serviceBus.outputs.eventTopicName
    registryName: registry.outputs.name
    appInsightsName: monitoring.outputs.appInsightsName
    functionsPrincipalId: functionsIdentity.outputs.principalId
    jobPrincipalId: jobIdentity.outputs.principalId
    scalerPrincipalId: scalerIdentity.outputs.principalId
    userPrincipalId: principalId
    userPrincipalType: principalType
  }
}

module functions 'modules/functions.bicep' = {
  name: 'functions'
  scope: rg
  params: {
    location: location
    tags: tags
    planName: '${abbrs.webServerFarms}${resourceToken}'
    name: functionAppName
    identityId: functionsIdentity.outputs.id
    identityClientId: functionsIdentity.outputs.clientId
    storageAccountName: storage.outputs.name
    blobServiceUri: storage.outputs.blobServiceUri
    queueServiceUri: storage.outputs.queueServiceUri
    deploymentContainerUri: storage.outputs.deploymentContainerUri
    appInsightsName: monitoring.outputs.appInsightsName
    serviceBusNamespace: serviceBus.outputs.fullyQualifiedNamespace
    jobQueueName: serviceBus.outputs.jobQueueName
    eventTopicName: serviceBus.outputs.eventTopicName
    eventSubscriptionName: serviceBus.outputs.eventSubscriptionName
    scheduleCron: scheduleCron
    scheduleRequest: scheduleRequest
  }
  // The host reaches its storage by identity as soon as it starts.
  dependsOn: [
    roles
  ]
}

module containerApps 'modules/containerapps.bicep' = {
  name: 'container-apps'
  scope: rg
  params: {
    location: location
    tags: tags
    environmentName: '${abbrs.appManagedEnvironments}${resourceToken}'
    jobName: '${abbrs.appJobs}gpu-${resourceToken}'
    logAnalyticsWorkspaceId: monitoring.outputs.logAnalyticsWorkspaceId
    gpuProfileType: gpuProfileType
    image: gpuJobImage
    registryLoginServer: registry.outputs.loginServer
    jobIdentityId: jobIdentity.outputs.id
    jobIdentityClientId: jobIdentity.outputs.clientId
    scalerIdentityId: scalerIdentity.outputs.id
    blobServiceUri: storage.outputs.blobServiceUri
    queueServiceUri: storage.outputs.queueServiceUri
    serviceBusName: serviceBus.outputs.name
    serviceBusNamespace: serviceBus.outputs.fullyQualifiedNamespace
    jobQueueName: serviceBus.outputs.jobQueueName
    eventTopicName: serviceBus.outputs.eventTopicName
    appInsightsName: monitoring.outputs.appInsightsName
    replicaTimeoutSeconds: gpuReplicaTimeoutSeconds
    maxExecutions: gpuMaxExecutions
  }
  // The scaler polls the queue and the job pulls its image as soon as they exist.
  dependsOn: [
    roles
  ]
}

module alerts 'modules/alerts.bicep' = {
  name: 'alerts'
  scope: rg
  params: {
    tags: tags
    jobId: containerApps.outputs.jobId
    serviceBusId: serviceBus.outputs.id
    jobQueueName: serviceBus.outputs.jobQueueName
    actionGroupName: '${abbrs.insightsActionGroups}${resourceToken}'
    budgetName: '${abbrs.consumptionBudgets}${environmentName}'
    alertEmail: alertEmail
    monthlyBudget: monthlyBudget
    budgetStartDate: empty(budgetStartDate) ? deploymentMonth : budgetStartDate
  }
}

// azd stores these in .azure/<env>/.env; scripts and docs/deploy.md use them.
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_CONTAINER_REGISTRY_ENDPOINT string = registry.outputs.loginServer
output AZURE_CONTAINER_REGISTRY_NAME string = registry.outputs.name
output AZURE_CONTAINER_APPS_ENVIRONMENT_NAME string = containerApps.outputs.environmentName
output RMT_FUNCTION_APP_NAME string = functions.outputs.name
output RMT_API_URL string = 'https://${functions.outputs.defaultHostName}/api'
output RMT_GPU_JOB_NAME string = containerApps.outputs.jobName
output RMT_GPU_PROFILE string = gpuProfileType
output RMT_GPU_MAX_EXECUTIONS int = gpuMaxExecutions
output RMT_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output RMT_BLOB_SERVICE_URI string = storage.outputs.blobServiceUri
output RMT_QUEUE_SERVICE_URI string = storage.outputs.queueServiceUri
output RMT_SERVICEBUS_NAMESPACE string = serviceBus.outputs.fullyQualifiedNamespace
output RMT_JOB_QUEUE string = serviceBus.outputs.jobQueueName
output RMT_EVENT_TOPIC string = serviceBus.outputs.eventTopicName
output RMT_EVENT_SUBSCRIPTION string = serviceBus.outputs.eventSubscriptionName
