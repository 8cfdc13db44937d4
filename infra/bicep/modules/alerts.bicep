// Cost and failure guards: a monthly budget on the resource group, and alerts on the two signs that
// GPU time is being spent for nothing (docs/deploy.md, "Cost guards and alerts"):
//   * failed executions of the GPU job: an image that does not start, a container that dies before
//     it receives its message (KEDA starts a new execution every polling interval while the message
//     waits), or a trainer that crashes;
//   * dead-lettered job messages: a job that was delivered maxDeliveryCount times without being
//     settled (the container crashed after receiving it each time), or that was malformed.
// Alerts and the budget notify the email address given (alertEmail); without one, the budget still
// notifies the resource group's Owners and the alerts still fire in the portal.

param tags object

@description('Resource id of the GPU job (Microsoft.App/jobs).')
param jobId string

@description('Resource id of the Service Bus namespace, and the name of the job queue in it.')
param serviceBusId string
param jobQueueName string

param actionGroupName string
param budgetName string

@description('Email that receives the alerts and budget notifications; empty for none.')
param alertEmail string

@description('Monthly budget of the resource group, in the billing currency.')
@minValue(1)
param monthlyBudget int

@description('First day of the budget period (yyyy-MM-01). The default, the current month, is fixed at deployment time.')
param budgetStartDate string

var hasEmail = !empty(alertEmail)

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = if (hasEmail) {
  name: actionGroupName
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'rmt-alerts'
    enabled: true
    emailReceivers: [
      {
        name: 'owner'
        emailAddress: alertEmail
        useCommonAlertSchema: true
      }
    ]
  }
}

var actions = hasEmail ? [{ actionGroupId: actionGroup.id }] : []

// Microsoft.App/jobs metric "Executions" (count, dimension "state"): any failed execution in 15 minutes.
resource failedExecutions 'Microsoft.Insights/metricAlerts@2018-03-01' = {
  name: 'alert-gpu-job-failed-executions'
  location: 'global'
  tags: tags
  properties: {
    description: 'An execution of the GPU trainer job failed: check the image, the job identity\'s roles and the console log (docs/deploy.md, "Cost guards and alerts"). Repeated failures with a waiting job message start a new GPU execution every polling interval.'
    severity: 1
    enabled: true
    scopes: [
      jobId
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    criteria: {
      'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'
      allOf: [
        {
          criterionType: 'StaticThresholdCriterion'
          name: 'failed-executions'
          metricNamespace: 'Microsoft.App/jobs'
          metricName: 'Executions'
          dimensions: [
            {
              name: 'state'
              operator: 'Include'
              values: [
                'Failed'
              ]
            }
          ]
          operator: 'GreaterThan'
          threshold: 0
          timeAggregation: 'Total'
        }
      ]
    }
    autoMitigate: true
    actions: actions
  }
}

// Microsoft.ServiceBus/namespaces metric "DeadletteredMessages" (dimension "EntityName"): a job
// message on the job queue's dead-letter queue.
resource deadLetteredJobs 'Microsoft.Insights/metricAlerts@2018-03-01' = {
  name: 'alert-job-queue-dead-lettered'
  location: 'global'
  tags: tags
  properties: {
    description: 'A job message was dead-lettered on ${jobQueueName}: it was delivered maxDeliveryCount times without being settled, or it was malformed. Read its DeadLetterReason (docs/deploy.md, "Cost guards and alerts").'
    severity: 2
    enabled: true
    scopes: [
      serviceBusId
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    criteria: {
      'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'
      allOf: [
        {
          criterionType: 'StaticThresholdCriterion'
          name: 'dead-lettered-jobs'
          metricNamespace: 'Microsoft.ServiceBus/namespaces'
          metricName: 'DeadletteredMessages'
          dimensions: [
            {
              name: 'EntityName'
              operator: 'Include'
              values: [
                jobQueueName
              ]
            }
          ]
          operator: 'GreaterThan'
          threshold: 0
          timeAggregation: 'Maximum'
        }
      ]
    }
    autoMitigate: true
    actions: actions
  }
}

// A budget only notifies; it stops nothing. Forecast 100% and actual 80% / 100% of the month.
resource budget 'Microsoft.Consumption/budgets@2023-11-01' = {
  name: budgetName
  properties: {
    category: 'Cost'
    amount: monthlyBudget
    timeGrain: 'Monthly'
    timePeriod: {
      startDate: budgetStartDate
    }
    notifications: {
      actual80: {
        enabled: true
        operator: 'GreaterThanOrEqualTo'
        threshold: 80
        thresholdType: 'Actual'
        contactEmails: hasEmail ? [alertEmail] : []
        contactRoles: [
          'Owner'
        ]
      }
      actual100: {
        enabled: true
        operator: 'GreaterThanOrEqualTo'
        threshold: 100
        thresholdType: 'Actual'
        contactEmails: hasEmail ? [alertEmail] : []
        contactRoles: [
          'Owner'
        ]
      }
      forecast100: {
        enabled: true
        operator: 'GreaterThanOrEqualTo'
        threshold: 100
        thresholdType: 'Forecasted'
        contactEmails: hasEmail ? [alertEmail] : []
        contactRoles: [
          'Owner'
        ]
      }
    }
  }
}

output budgetName string = budget.name
