// A monthly cost budget on the resource group: e-mails at 80 % of actual spend and at 100 % of forecast spend.
// It alerts; it does not stop anything (the GPU cluster already scales to zero and Flex bills per execution).

@description('Budget name.')
param budgetName string

@description('Monthly amount, in the billing currency of the subscription.')
@minValue(1)
param amount int

@description('E-mail addresses that receive the alerts (at least one).')
@minLength(1)
param contactEmails array

@description('First day of the budget\'s first month, yyyy-MM-01. The Consumption API refuses to change it later, so the azd preprovision hook pins it once per environment (TRIAGE_BUDGET_START_DATE).')
param startDate string

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
        contactEmails: contactEmails
      }
      forecasted100: {
        enabled: true
        operator: 'GreaterThanOrEqualTo'
        threshold: 100
        thresholdType: 'Forecasted'
        contactEmails: contactEmails
      }
    }
  }
}

output budgetName string = budget.name
