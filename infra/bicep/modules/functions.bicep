// The Functions app (Rmt.Functions): HTTP API, timer and the durable orchestrations, on the Flex
// Consumption plan, .NET 10 isolated worker, running as a user-assigned managed identity.
// Its app settings are the contract in Rmt.Contracts.RmtSettings.FunctionsApp plus the host's own
// (storage by identity, Application Insights by identity, durable task hub); tests/Rmt.Infra.Tests
// checks them in the compiled template. No setting holds a key or a connection string.

param location string
param tags object
param planName string
param name string

@description('Resource id of the user-assigned identity the app runs as.')
param identityId string

@description('Client id of that identity (AZURE_CLIENT_ID, AzureWebJobsStorage__clientId).')
param identityClientId string

param storageAccountName string
param blobServiceUri string
param queueServiceUri string

@description('Blob container URI of the deployment package (Flex Consumption).')
param deploymentContainerUri string

param appInsightsName string
param serviceBusNamespace string
param jobQueueName string
param eventTopicName string
param eventSubscriptionName string

@description('NCRONTAB (6 fields, UTC) of scheduled retraining.')
param scheduleCron string

@description('PipelineRequest JSON the timer submits.')
param scheduleRequest string

@description('Durable task hub name: letters and digits, 3-45 characters, starting with a letter.')
@minLength(3)
@maxLength(45)
param taskHubName string = 'rmt'

@description('Upper bound of Flex Consumption instances.')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 40

@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

resource plan 'Microsoft.Web/serverfarms@2024-11-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    tier: 'FlexConsumption'
    name: 'FC1'
  }
  properties: {
    reserved: true // Linux
  }
}

resource site 'Microsoft.Web/sites@2024-11-01' = {
  name: name
  location: location
  // azd deploys the "functions" service of azure.yaml to the site carrying this tag.
  tags: union(tags, { 'azd-service-name': 'functions' })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    siteConfig: {
      minTlsVersion: '1.2'
      appSettings: [
        // Host storage by identity (also the durable backend's storage): account name + credential,
        // no AzureWebJobsStorage connection string.
        { name: 'AzureWebJobsStorage__accountName', value: storageAccountName }
        { name: 'AzureWebJobsStorage__credential', value: 'managedidentity' }
        { name: 'AzureWebJobsStorage__clientId', value: identityClientId }
        // A stable task hub name, independent of the app's name (host.json value, overridden here).
        { name: 'AzureFunctionsJobHost__extensions__durableTask__hubName', value: taskHubName }
        // The connection string of Application Insights holds the instrumentation key and ingestion
        // endpoints, which identify the component but grant nothing: the component has local auth
        // disabled, so ingestion needs an Entra token of this identity (Authorization=AAD below,
        // role Monitoring Metrics Publisher). It is not a secret key.
        { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: appInsights.properties.ConnectionString }
        { name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING', value: 'ClientId=${identityClientId};Authorization=AAD' }
        // Rmt.Contracts.RmtSettings.FunctionsApp
        { name: 'RMT_BLOB_SERVICE_URI', value: blobServiceUri }
        { name: 'RMT_QUEUE_SERVICE_URI', value: queueServiceUri }
        { name: 'RMT_SERVICEBUS_NAMESPACE', value: serviceBusNamespace }
        { name: 'RMT_JOB_QUEUE', value: jobQueueName }
        { name: 'RMT_EVENT_TOPIC', value: eventTopicName }
        { name: 'RMT_EVENT_SUBSCRIPTION', value: eventSubscriptionName }
        { name: 'AZURE_CLIENT_ID', value: identityClientId }
        { name: 'RMT_SCHEDULE_CRON', value: scheduleCron }
        { name: 'RMT_SCHEDULE_REQUEST', value: scheduleRequest }
      ]
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: deploymentContainerUri
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'dotnet-isolated'
        version: '10.0'
      }
    }
  }
}

output name string = site.name
output defaultHostName string = site.properties.defaultHostName
