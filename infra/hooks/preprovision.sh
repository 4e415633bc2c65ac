#!/bin/sh
# azd preprovision hook: pin the budget's start month once per environment.
# The Consumption API refuses to change a budget's start date, so it must not follow the calendar
# on later `azd provision` runs (main.bicep budgetStartDate <- TRIAGE_BUDGET_START_DATE).
set -eu

if [ -z "${TRIAGE_BUDGET_START_DATE:-}" ]; then
  start="$(date -u +%Y-%m-01)"
  azd env set TRIAGE_BUDGET_START_DATE "$start"
  echo "Budget start date pinned to $start (azd env TRIAGE_BUDGET_START_DATE)."
fi
