// Log Analytics workspace and a workspace-based Application Insights component.
// Both refuse key-based ingestion (disableLocalAuth): the Functions app sends telemetry with its
// managed identity (role Monitoring Metrics Publisher, see roles.bicep), and the Container Apps
// environment sends its logs through a diagnostic setting instead of the workspace key. The GPU job
// exports its spans and metrics here too (same role), and a workbook shows a run's stages and curves.

param location string
param tags object
param logAnalyticsName string
param appInsightsName string

resource logAnalytics 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: logAnalyticsName
  location: location
  tags: tags
  properties: {
    sku: { name: 'PerGB2018' }
    retentionInDays: 30
    features: {
      disableLocalAuth: true
    }
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: appInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logAnalytics.id
    DisableLocalAuth: true
  }
}

// A run's stages (the trainer's rmt.job spans), training curves by step (rmt.train.step spans) and over
// time (rmt.train.* histograms): the names are Rmt.Contracts.TelemetryNames, checked by
// tests/Rmt.Infra.Tests against workbook.json. Portal: the component > Workbooks.
resource workbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  name: guid(appInsights.id, 'rmt-runs-workbook')
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: 'RMT runs: stages and training curves'
    category: 'workbook'
    sourceId: appInsights.id
    serializedData: loadTextContent('workbook.json')
  }
}

output logAnalyticsWorkspaceId string = logAnalytics.id
output logAnalyticsName string = logAnalytics.name
output appInsightsName string = appInsights.name
