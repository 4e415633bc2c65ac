// A monthly cost budget on the resource group: e-mails at 80 % of actual spend and at 100 % of forecast spend.
// It alerts; it does not stop anything (the GPU cluster already scales to zero and Flex bills per execution).
//
// Deployed by the postprovision hook (infra/hooks/budget.sh, .ps1) with `az deployment group create`, not by main.bicep:
// a budget's start date cannot be updated ("Start date of budgets cannot be updated. Please delete and create a new
// budget", Azure/bicep#7149), and redeploying it in a later month is reported to fail whatever the start date
// (Azure/azure-quickstart-templates#7095), so a template that deploys it on every `azd provision` fails sooner or later.
// The hook creates it only when the resource group has none, with the first day of the current month, and otherwise
// redeploys it only to change the amount or the recipients, with the start date it already has.

@description('Budget name.')
param budgetName string

@description('Monthly amount, in the billing currency of the subscription.')
@minValue(1)
param amount int

@description('Comma-separated e-mail addresses that receive the alerts (at least one).')
@minLength(3)
param contactEmails string

@description('First day of the budget\'s first month, yyyy-MM-01: the current month when the hook creates the budget, the budget\'s own start date when it updates it.')
param startDate string

var recipients = split(replace(contactEmails, ' ', ''), ',')

resource budget 'Microsoft.Consumption/budgets@2023-11-01' = {
  name: budgetName
  properties: {
    category: 'Cost'
    amount: amount
    timeGrain: 'Monthly'
    timePeriod: {
      startDate: startDate
    }
    notifications: {
      actual80: {
        enabled: true
        operator: 'GreaterThanOrEqualTo'
        threshold: 80
        thresholdType: 'Actual'
        contactEmails: recipients
      }
      forecasted100: {
        enabled: true
        operator: 'GreaterThanOrEqualTo'
        threshold: 100
        thresholdType: 'Forecasted'
        contactEmails: recipients
      }
    }
  }
}

output budgetName string = budget.name
