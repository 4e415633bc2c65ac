"""Deploy day: `azd up` succeeds the first time and every time after, checks what it can beforehand, and costs little.

Each test below names the failure it guards against and the source it was checked against (the same sources are
quoted in the templates and hooks). The templates are parsed with pycep-parser; the POSIX hooks run for real against
stand-ins for `az`, `azd` and `sleep` (tests/infra/fakes.py); the PowerShell twins, which cannot run here (no pwsh),
are checked statically for the same commands, checks and messages.
"""

from __future__ import annotations

import ast
import functools
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from pycep import BicepParser

from tests.infra.fakes import answer, hook_env, install, install_sleep, sleeps

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
HOOKS = INFRA / "hooks"
needs_sh = pytest.mark.skipif(shutil.which("sh") is None, reason="needs a POSIX shell")


@functools.cache
def parsed(path: Path) -> dict[str, Any]:
    """A Bicep file parsed by pycep-parser."""
    return BicepParser().parse(file_path=path)


def body(item: dict[str, Any]) -> dict[str, Any]:
    """A resource's or module's configuration, below a loop or a condition."""
    config = item["config"]
    return config["config"] if "loop_type" in config or "condition" in config else config


def declared(path: Path, type_: str) -> list[dict[str, Any]]:
    """The bodies of the declared (not `existing`) resources of a type in a template."""
    return [body(r) for r in parsed(path).get("resources", {}).values() if r["type"] == type_ and not r["existing"]]


def provisioned_templates(path: Path = INFRA / "main.bicep") -> Iterator[Path]:
    """main.bicep and every module it deploys, recursively: what `azd provision` deploys."""
    yield path
    for module in parsed(path).get("modules", {}).values():
        yield from provisioned_templates((path.parent / module["detail"]["path"]).resolve())


def function_calls(node: Any) -> Iterator[str]:
    """The names of every function a parsed expression tree calls."""
    if isinstance(node, dict):
        if "function" in node and isinstance(node["function"], dict):
            yield str(node["function"].get("type", ""))
        if "func_name" in node:
            yield str(node["func_name"])
        for value in node.values():
            yield from function_calls(value)
    elif isinstance(node, list):
        for value in node:
            yield from function_calls(value)


def site_config(path: Path) -> dict[str, Any]:
    (site,) = declared(path, "Microsoft.Web/sites")
    return site["properties"]["siteConfig"]


def app_settings(path: Path = INFRA / "modules" / "functionapp.bicep") -> dict[str, Any]:
    """The Function App's settings object (the variable siteConfig.appSettings is built from)."""
    loop = site_config(path)["appSettings"]["loop_type"]["detail"]["array_name"]["function"]
    return parsed(path)["variables"][loop["parameters"]["arg_1"]]["value"]


def source(name: str) -> str:
    """A hook's text; in a PowerShell one, argument arrays read as command lines ('a', 'b' -> 'a b')."""
    text = (HOOKS / name).read_text(encoding="utf-8")
    return re.sub(r"'\s*,\s*'", " ", text) if name.endswith(".ps1") else text


def run_hook(script: str, env: dict[str, str], timeout: int = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["sh", str(HOOKS / script)], env=env, capture_output=True, text=True, timeout=timeout,
                          check=False, cwd=ROOT)


# ---------------------------------------------------------------------------------------------------------------
# 1. Flex Consumption rejects some siteConfig properties, ftpsState among them (ARM error 51021)
# ---------------------------------------------------------------------------------------------------------------

# Named in ARM 51021 refusals for Flex sites: microsoft/azure-pipelines-tasks#21032 (FtpsState, Use32BitWorkerProcess,
# NetFrameworkVersion, FunctionsRuntimeScaleMonitoringEnabled), Azure/terraform-azurerm-avm-res-web-site#360
# (+ PreWarmedInstanceCount) and #283 (LinuxFxVersion), Azure/azure-functions-host#10643 (FunctionAppScaleLimit); the
# Azure Verified Module (#345) omits these and alwaysOn for Flex.
FLEX_REJECTED_SITE_CONFIG = {"ftpsState", "use32BitWorkerProcess", "netFrameworkVersion", "preWarmedInstanceCount",
                             "functionsRuntimeScaleMonitoringEnabled", "functionAppScaleLimit", "linuxFxVersion",
                             "alwaysOn"}


def flex_rejected_properties(path: Path) -> set[str]:
    return set(site_config(path)) & FLEX_REJECTED_SITE_CONFIG


def test_1_flex_site_sets_no_site_config_property_that_flex_rejects() -> None:
    path = INFRA / "modules" / "functionapp.bicep"
    assert not flex_rejected_properties(path)
    # FTP stays off another way: the basic-auth publishing credentials policies.
    policies = {p["name"]: p["properties"]["allow"]
                for p in declared(path, "Microsoft.Web/sites/basicPublishingCredentialsPolicies")}
    assert policies == {"ftp": False, "scm": False}


# ---------------------------------------------------------------------------------------------------------------
# 2. No listKeys of the Functions host inside `azd provision`; the Event Grid subscription lives in postdeploy
# ---------------------------------------------------------------------------------------------------------------

def provisioning_list_calls() -> dict[str, list[str]]:
    """list*() calls in the templates `azd provision` deploys, by file."""
    found = {}
    for path in provisioned_templates():
        calls = [c for c in function_calls(parsed(path)) if c.lower().startswith("list")]
        if calls:
            found[path.relative_to(INFRA).as_posix()] = calls
    return found


def test_2_provisioning_reads_no_host_key_and_postdeploy_owns_the_subscription() -> None:
    provisioned = {p.relative_to(INFRA).as_posix() for p in provisioned_templates()}
    assert "modules/model-events.bicep" not in provisioned
    assert not provisioning_list_calls()  # a restarting host answers listKeys with ServiceUnavailable (#5722)
    types = {r["type"] for p in provisioned_templates() for r in parsed(p).get("resources", {}).values()}
    assert "Microsoft.EventGrid/systemTopics/eventSubscriptions" not in types
    for script in ("postdeploy.sh", "postdeploy.ps1"):
        text = source(script)
        assert "modules/model-events.bicep" in text and "deployment group create" in text, script
        assert "ENABLE_MODEL_EVENTS" not in text, script  # no second owner of the subscription
    main = json.loads((INFRA / "main.parameters.json").read_text(encoding="utf-8"))["parameters"]
    assert "enableModelEvents" not in main


# ---------------------------------------------------------------------------------------------------------------
# 3. The budget's start date cannot change: the budget is created by an idempotent hook, not by the template
# ---------------------------------------------------------------------------------------------------------------

def test_3_provisioning_deploys_no_budget() -> None:
    for path in provisioned_templates():
        assert not declared(path, "Microsoft.Consumption/budgets"), path
        assert "utc_now" not in set(function_calls(parsed(path))) and "utcNow" not in path.read_text(), path
    parameters = set(parsed(INFRA / "main.bicep")["parameters"])
    assert not {"budgetStartDate", "budgetAmount", "budgetContactEmails"} & parameters
    hooks = yaml.safe_load((ROOT / "azure.yaml").read_text(encoding="utf-8"))["hooks"]
    assert hooks["postprovision"]["posix"]["run"] == "./infra/hooks/postprovision.sh"
    assert "budget.sh" in source("postprovision.sh") and "budget.ps1" in source("postprovision.ps1")
    for script in ("budget.sh", "budget.ps1"):
        text = source(script)
        assert "modules/budget.bicep" in text and "Microsoft.Consumption/budgets" in text, script
    # Nothing pins a date in azd's environment any more (older azd did not reload it before provisioning), and the
    # pre-flight only reads: it sets no azd value (its messages only tell the maintainer which to set).
    for script in ("preprovision.sh", "preprovision.ps1"):
        text = source(script)
        assert "TRIAGE_BUDGET_START_DATE" not in text, script
        assert not re.search(r'^\s*(azd|"\$AZD"|& \$Azd) env set', text, re.MULTILINE), script
        assert "$Azd @('env" not in text and "$Azd env" not in text, script


BUDGET_LIST = r"rest --method get --url /subscriptions/sub/resourceGroups/rg-x/providers/Microsoft\.Consumption/budgets"


def run_budget(tmp_path: Path, listing: dict[str, Any] | list[dict[str, Any]], deploy: dict[str, Any] | None = None,
               **values: str) -> tuple[subprocess.CompletedProcess[str], list[str], list[int]]:
    bin_dir = tmp_path / "bin"
    az = install(bin_dir, "az", [(BUDGET_LIST, listing), (r"^deployment group create", deploy or answer())])
    sleep_log = install_sleep(bin_dir)
    env = hook_env(bin_dir, **{"AZURE_SUBSCRIPTION_ID": "sub", "AZURE_RESOURCE_GROUP": "rg-x", "AZURE_ENV_NAME": "x",
                               "TRIAGE_BUDGET_EMAILS": "a@example.com, b@example.com", **values})
    result = run_hook("budget.sh", env)
    return result, az.calls(), sleeps(sleep_log)


@needs_sh
def test_3_budget_hook_creates_the_budget_from_this_month_when_there_is_none(tmp_path: Path) -> None:
    result, calls, _ = run_budget(tmp_path, answer(""), TRIAGE_BUDGET_AMOUNT="25")
    assert result.returncode == 0, result.stderr
    (deploy,) = [c for c in calls if c.startswith("deployment group create")]
    month = datetime.now(UTC).strftime("%Y-%m-01")
    assert "--template-file " in deploy and deploy.split("--template-file ")[1].split()[0].endswith(
        "infra/hooks/../modules/budget.bicep")
    assert f"budgetName=budget-x amount=25 contactEmails=a@example.com,b@example.com startDate={month}" in deploy


@needs_sh
def test_3_budget_hook_leaves_an_unchanged_budget_alone_in_any_month(tmp_path: Path) -> None:
    listing = answer('2020-03-01T00:00:00Z\t30.0\t["a@example.com","b@example.com"]')
    result, calls, _ = run_budget(tmp_path, listing)
    assert result.returncode == 0, result.stderr
    assert not [c for c in calls if c.startswith("deployment")]  # nothing the API could refuse
    assert "kept" in result.stdout


@needs_sh
def test_3_budget_hook_updates_a_changed_budget_with_its_own_start_date(tmp_path: Path) -> None:
    listing = answer('2020-03-01T00:00:00Z\t30.0\t["a@example.com"]')
    result, calls, _ = run_budget(tmp_path, listing, TRIAGE_BUDGET_AMOUNT="40")
    assert result.returncode == 0, result.stderr
    (deploy,) = [c for c in calls if c.startswith("deployment group create")]
    assert "amount=40 contactEmails=a@example.com,b@example.com startDate=2020-03-01" in deploy


@needs_sh
def test_3_budget_hook_never_fails_the_deployment(tmp_path: Path) -> None:
    # A refused update is a warning; a listing that keeps failing is retried with backoff, then a warning, and the
    # budget is never created blindly.
    refused = answer(stderr="Start date of budgets cannot be updated.", exit=1)
    result, calls, _ = run_budget(tmp_path, answer("2020-03-01\t30\t[\"x@example.com\"]"), refused)
    assert result.returncode == 0 and "warning:" in result.stderr and "cannot be updated" in result.stderr
    result, calls, waits = run_budget(tmp_path, answer(stderr="AuthorizationFailed", exit=1))
    assert result.returncode == 0 and "could not be listed" in result.stderr
    assert not [c for c in calls if c.startswith("deployment")] and waits == [15, 30]
    result, calls, _ = run_budget(tmp_path, answer(""), TRIAGE_BUDGET_EMAILS="")
    assert result.returncode == 0 and "TRIAGE_BUDGET_EMAILS" in result.stderr and not calls


def test_3_budget_template_takes_the_recipients_and_start_date_from_the_hook() -> None:
    path = INFRA / "modules" / "budget.bicep"
    params = parsed(path)["parameters"]
    assert params["startDate"]["default"] is None and params["contactEmails"]["default"] is None
    (budget,) = declared(path, "Microsoft.Consumption/budgets")
    assert budget["properties"]["timePeriod"]["startDate"] == "startDate"
    alerts = {(n["threshold"], n["thresholdType"]) for n in budget["properties"]["notifications"].values()}
    assert alerts == {(80, "Actual"), (100, "Forecasted")}
    assert "split(replace(contactEmails, ' ', ''), ',')" in path.read_text()


# ---------------------------------------------------------------------------------------------------------------
# 4. App Service Authentication on Flex: no token store; the smoke test proves the sign-in redirect (302, not 503)
# ---------------------------------------------------------------------------------------------------------------

def test_4_easy_auth_keeps_no_token_store_and_the_smoke_test_checks_the_redirect() -> None:
    (auth,) = declared(INFRA / "modules" / "functionapp-auth.bicep", "Microsoft.Web/sites/config")
    assert auth["properties"]["login"]["tokenStore"]["enabled"] is False
    assert auth["properties"]["globalValidation"]["unauthenticatedClientAction"] == "RedirectToLoginPage"
    for script in ("smoke.sh", "smoke.ps1"):
        text = source(script)
        assert "/api/dashboard" in text and "/.auth/login/" in text and "503" in text and "302" in text, script
    assert "smoke" in source("postdeploy.sh") and "smoke" in source("postdeploy.ps1")


# ---------------------------------------------------------------------------------------------------------------
# 5. The Event Grid validation handshake can reach a cold instance: the postdeploy hook retries with backoff
# ---------------------------------------------------------------------------------------------------------------

EVENT_GRID_ENV = dict(AZURE_SUBSCRIPTION_ID="sub", AZURE_RESOURCE_GROUP="rg-x", AZURE_FUNCTION_APP_NAME="func-x",
                      AZURE_FUNCTION_APP_URL="http://127.0.0.1:9", AZURE_EVENTGRID_SYSTEM_TOPIC_NAME="evgt-x",
                      TRIAGE_SKIP_SMOKE="true")
HANDSHAKE_FAILED = answer(stderr="Url validation: Webhook validation handshake failed for https://func-x.azurewebsites.net"
                                 "/runtime/webhooks/blobs?functionName=Host.Functions.model_created&code=SECRETKEY. "
                                 "Http POST request failed with response code Unknown.", exit=1)


def run_postdeploy(tmp_path: Path, deploys: list[dict[str, Any]], state: str = "Succeeded",
                   **values: str) -> tuple[subprocess.CompletedProcess[str], list[str], list[int]]:
    bin_dir = tmp_path / "bin"
    az = install(bin_dir, "az", [
        (r"^functionapp keys list .*systemKeys\.blobs_extension != null", [answer("false"), answer("true")]),
        (r"^deployment group create .*--name model-events", deploys),
        (r"^eventgrid system-topic event-subscription show .*-n model-created", answer(state)),
    ])
    sleep_log = install_sleep(bin_dir)
    result = run_hook("postdeploy.sh", hook_env(bin_dir, **{**EVENT_GRID_ENV, **values}))
    return result, az.calls(), sleeps(sleep_log)


@needs_sh
def test_5_postdeploy_retries_the_subscription_with_backoff_and_never_shows_the_key(tmp_path: Path) -> None:
    result, calls, waits = run_postdeploy(tmp_path, [HANDSHAKE_FAILED, HANDSHAKE_FAILED, answer()])
    assert result.returncode == 0, result.stderr
    deploys = [c for c in calls if c.startswith("deployment group create")]
    assert len(deploys) == 3
    assert deploys[0].split("--template-file ")[1].split()[0].endswith("infra/hooks/../modules/model-events.bicep")
    assert "systemTopicName=evgt-x functionAppName=func-x" in deploys[0]
    assert waits == [10, 15, 30]  # one wait for the key, then backoff between the attempts
    assert "SECRETKEY" not in result.stdout + result.stderr and "code=***" in result.stderr
    assert "Done:" in result.stdout and "Smoke test skipped" in result.stdout


@needs_sh
def test_5_postdeploy_is_idempotent_and_gives_up_with_a_message(tmp_path: Path) -> None:
    # Run twice: the same deployment each time, and no value written to azd's environment.
    for _ in range(2):
        result, calls, _ = run_postdeploy(tmp_path, [answer()])
        assert result.returncode == 0, result.stderr
        assert [c.split()[0:3] for c in calls if c.startswith("deployment")] == [["deployment", "group", "create"]]
    result, calls, waits = run_postdeploy(tmp_path, [HANDSHAKE_FAILED], TRIAGE_EVENTGRID_ATTEMPTS="4")
    assert result.returncode == 1 and "failed 4 times" in result.stderr and "azd hooks run postdeploy" in result.stderr
    assert waits == [10, 15, 30, 60]
    # A deployment that succeeds with a subscription that is not Succeeded is retried too.
    result, calls, _ = run_postdeploy(tmp_path, [answer()], state="Failed", TRIAGE_EVENTGRID_ATTEMPTS="2")
    assert result.returncode == 1 and "is Failed" in result.stderr


def test_5_both_postdeploy_hooks_retry_with_the_same_schedule() -> None:
    for script, backoff in (("postdeploy.sh", "backoff"), ("postdeploy.ps1", "Get-Backoff")):
        text = source(script)
        assert backoff in text and "TRIAGE_EVENTGRID_ATTEMPTS" in text and "provisioningState" in text, script
        assert "/api/health" in text, script  # each attempt wakes the host first
    assert re.search(r"backoff\(\) \{\n  delay=15", source("require.sh"))
    assert "[int]$delay = 15" in source("require.ps1") and "240" in source("require.ps1")


# ---------------------------------------------------------------------------------------------------------------
# 6 and 8. Pre-flight: azd version, values, az login, Flex region, GPU quota; requiredVersions in azure.yaml
# ---------------------------------------------------------------------------------------------------------------

AML = r"rest --method get --url /subscriptions/sub/providers/Microsoft\.MachineLearningServices/locations/eastus"
VM_SIZES = AML + "/vmSizes"
USAGES = AML + "/usages"
T4 = answer("standardNCASv3_T4Family\t4\tTrue")


def usages(low_priority: tuple[int, int] = (0, 8), family: tuple[int, int] = (0, 8),
           dedicated: tuple[int, int] = (0, 24)) -> dict[str, Any]:
    """Azure ML usages as `az rest ... -o tsv` prints them (type, name, current, limit), shaped like Microsoft's
    example of the Usages - List operation (azure-rest-api-specs, machinelearningservices, Usage/list.json)."""
    t4 = "Standard NCASv3_T4 Family Cluster"
    rows = [
        ("totalCores", "Clusters", 1, 100),
        ("dedicatedCores", "Total Cluster Dedicated Regional vCPUs", *dedicated),
        ("vmFamily", f"{t4} Dedicated vCPUs", *family),
        ("workspaces", f"{t4} Dedicated vCPUs", 0, 99),  # a workspace's share: not the subscription's line
        ("lowPriorityCores", "Total Cluster LowPriority Regional vCPUs", *low_priority),
        ("vmFamily", f"{t4} LowPriority vCPUs", 0, -1),
    ]
    return answer("\n".join("\t".join([f"Microsoft.MachineLearningServices/{kind}/usages", *map(str, rest)])
                            for kind, *rest in rows))


def run_preflight(tmp_path: Path, *, azd_version: str = "1.23.5", logged_in: bool = True,
                  flex: str = "eastus\nnortheurope\nswedencentral", sizes: dict[str, Any] = T4,
                  quota: dict[str, Any] | None = None,
                  **values: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    bin_dir = tmp_path / "bin"
    az = install(bin_dir, "az", [
        (r"^account show --subscription sub",
         answer("sub") if logged_in else answer(stderr="Please run 'az login'", exit=1)),
        (r"^functionapp list-flexconsumption-locations", answer(flex)),
        (VM_SIZES, sizes),
        (USAGES, quota or usages(low_priority=(0, 8))),
    ])
    azd = install(bin_dir, "azd", [(r"^version", answer(f"azd version {azd_version} (commit 0123abc)"))])
    env = hook_env(bin_dir, AZURE_SUBSCRIPTION_ID="sub", AZURE_LOCATION="eastus", TRIAGE_BUDGET_EMAILS="a@example.com")
    env.update(values)
    result = run_hook("preprovision.sh", env)
    assert set(azd.calls()) <= {"version"}, azd.calls()  # no `azd env set`: the pre-flight only reads
    return result, az.calls()


@needs_sh
def test_6_preflight_passes_with_quota_and_writes_nothing(tmp_path: Path) -> None:
    result, calls = run_preflight(tmp_path)
    assert result.returncode == 0, result.stderr
    assert "ok: azd 1.23.5" in result.stdout and "Flex Consumption is offered in eastus" in result.stdout
    assert "8 lowpriority vCPUs free" in result.stdout
    assert all(c.split()[0] in ("account", "functionapp", "rest") for c in calls), calls  # reads only
    assert all(" --method get " in f" {c} " for c in calls if c.startswith("rest")), calls


@needs_sh
@pytest.mark.parametrize(("case", "arguments", "message"), [
    ("no low-priority quota", dict(quota=usages(low_priority=(0, 0))),
     "Not enough Azure ML LowPriority quota for Standard_NC4as_T4_v3"),
    ("low-priority pool used up", dict(quota=usages(low_priority=(6, 8))), "2 lowpriority vCPUs free"),
    ("no T4 family quota for dedicated nodes", dict(quota=usages(family=(0, 0)), TRIAGE_GPU_VM_PRIORITY="Dedicated"),
     "0 family vCPUs free"),
    ("size not offered", dict(sizes=answer("")), "Azure ML does not offer Standard_NC4as_T4_v3 in eastus"),
    ("size not low-priority capable", dict(sizes=answer("standardNCASv3_T4Family\t4\tFalse")),
     "cannot run as a low-priority node"),
])
def test_6_preflight_stops_without_gpu_quota_and_says_what_to_change(tmp_path: Path, case: str,
                                                                       arguments: dict[str, Any], message: str) -> None:
    result, _ = run_preflight(tmp_path, **arguments)
    assert result.returncode == 1, case
    assert message in result.stderr, result.stderr
    if "quota" in case or "family" in case:
        for advice in ("TRIAGE_GPU_VM_PRIORITY", "TRIAGE_GPU_VM_SIZE", "AZURE_LOCATION", "TRIAGE_SKIP_QUOTA_CHECK"):
            assert advice in result.stderr, advice


@needs_sh
def test_6_preflight_quota_check_can_be_skipped_while_a_request_is_pending(tmp_path: Path) -> None:
    result, calls = run_preflight(tmp_path, quota=usages(low_priority=(0, 0)), TRIAGE_SKIP_QUOTA_CHECK="true")
    assert result.returncode == 0 and "quota not checked" in result.stdout
    assert not [c for c in calls if "usages" in c]


@needs_sh
@pytest.mark.parametrize(("arguments", "message"), [
    (dict(azd_version="1.20.0"), "azd 1.20.0 is too old: this project needs azd 1.23.5 or later"),
    (dict(logged_in=False), "run 'az login'"),
    (dict(flex="northeurope\nswedencentral"), "region eastus does not offer Flex Consumption"),
    (dict(TRIAGE_BUDGET_EMAILS=""), "azd env set TRIAGE_BUDGET_EMAILS"),
    (dict(AZURE_LOCATION=""), "azd env set AZURE_LOCATION"),
])
def test_6_preflight_stops_early_with_what_to_change(tmp_path: Path, arguments: dict[str, Any], message: str) -> None:
    result, _ = run_preflight(tmp_path, **arguments)
    assert result.returncode == 1 and message in result.stderr, result.stderr


def test_6_preflight_hooks_check_the_same_things() -> None:
    sh, ps1 = source("preprovision.sh") + source("aml_quota.sh"), source("preprovision.ps1") + source("aml_quota.ps1")
    for needle in ("TRIAGE_BUDGET_EMAILS", "account show", "list-flexconsumption-locations",
                   "Microsoft.MachineLearningServices/locations/", "vmSizes?api-version=", "usages?api-version=",
                   "lowprioritycores", "dedicatedcores", "vmfamily", "TRIAGE_SKIP_QUOTA_CHECK", "TRIAGE_GPU_VM_SIZE",
                   "TRIAGE_GPU_VM_PRIORITY", "AZURE_LOCATION", "Standard_NC4as_T4_v3", "LowPriority",
                   "would never start"):
        assert needle.lower() in sh.lower() and needle.lower() in ps1.lower(), needle
    # Their defaults are main.parameters.json's.
    parameters = json.loads((INFRA / "main.parameters.json").read_text(encoding="utf-8"))["parameters"]
    assert parameters["gpuVmSize"]["value"] == "${TRIAGE_GPU_VM_SIZE=Standard_NC4as_T4_v3}"
    assert parameters["gpuVmPriority"]["value"] == "${TRIAGE_GPU_VM_PRIORITY=LowPriority}"


def test_8_azure_yaml_requires_an_azd_that_reloads_hook_values() -> None:
    # azd 1.21.0 reloads the environment before reading the parameters (Azure/azure-dev#6063); 1.23.5 adds
    # `remoteBuild` for Flex Consumption (Azure/azure-dev#6748), which azure.yaml uses.
    project = yaml.safe_load((ROOT / "azure.yaml").read_text(encoding="utf-8"))
    assert project["requiredVersions"]["azd"] == ">= 1.23.5"
    assert project["services"]["api"]["remoteBuild"] is True
    minimum = project["requiredVersions"]["azd"].removeprefix(">= ")
    assert f"MIN_AZD_VERSION={minimum}" in source("preprovision.sh")
    assert f"$MinAzdVersion = '{minimum}'" in source("preprovision.ps1")


# ---------------------------------------------------------------------------------------------------------------
# 7. Durable Functions on Flex: queue polling at most 10 s, always-ready `durable` instances available
# ---------------------------------------------------------------------------------------------------------------

def seconds(timespan: str) -> int:
    hours, minutes, secs = (int(float(part)) for part in timespan.split(":"))
    return hours * 3600 + minutes * 60 + secs


def durable_polling_seconds() -> int:
    """The effective maxQueuePollingInterval in Azure: the app setting override, else host.json, else the default."""
    settings = app_settings()
    override = settings.get("AzureFunctionsJobHost__extensions__durableTask__storageProvider__maxQueuePollingInterval")
    if override is not None:
        value = parsed(INFRA / "modules" / "functionapp.bicep")["variables"].get(override, {}).get("value", override)
        return seconds(value)
    host = json.loads((ROOT / "host.json").read_text(encoding="utf-8"))
    configured = host.get("extensions", {}).get("durableTask", {}).get("storageProvider", {}).get(
        "maxQueuePollingInterval")
    return seconds(configured) if configured else 30


def test_7_durable_queue_polling_is_at_most_10_seconds_and_always_ready_is_available() -> None:
    assert durable_polling_seconds() <= 10  # Microsoft's recommendation for Flex Consumption (default 30 s)
    path = INFRA / "modules" / "functionapp.bicep"
    (site,) = declared(path, "Microsoft.Web/sites")
    always_ready = site["properties"]["functionAppConfig"]["scaleAndConcurrency"]["alwaysReady"]["operator"]["operands"]
    assert always_ready["true_value"] == [{"name": "durable", "instanceCount": "durableAlwaysReadyInstances"}]
    assert always_ready["false_value"] == []
    main = parsed(INFRA / "main.bicep")
    assert main["parameters"]["durableAlwaysReadyInstances"]["default"] == 0  # opt in: it bills around the clock
    params = body(main["modules"]["functionApp"])["params"]
    assert params["durableAlwaysReadyInstances"] == "durableAlwaysReadyInstances"
    parameters = json.loads((INFRA / "main.parameters.json").read_text(encoding="utf-8"))["parameters"]
    assert parameters["durableAlwaysReadyInstances"]["value"] == "${TRIAGE_DURABLE_ALWAYS_READY=0}"


# ---------------------------------------------------------------------------------------------------------------
# 9. The Cosmos DB data role covers the account: the SDK reads account metadata at start-up
# ---------------------------------------------------------------------------------------------------------------

def test_9_cosmos_data_role_is_scoped_to_the_account() -> None:
    (assignment,) = declared(INFRA / "modules" / "cosmos.bicep",
                             "Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments")
    assert assignment["properties"]["scope"] == {"operator": {"type": "property_accessor", "operands": {
        "operand_1": "account", "operand_2": "id"}}}  # account.id
    role = assignment["properties"]["roleDefinitionId"]
    assert role == "${account.id}/sqlRoleDefinitions/${cosmosDataContributorRoleId}"  # Built-in Data Contributor


# ---------------------------------------------------------------------------------------------------------------
# Cost at rest: no container registry unless images are built
# ---------------------------------------------------------------------------------------------------------------

def test_the_container_registry_is_created_only_for_built_images() -> None:
    main = parsed(INFRA / "main.bicep")
    assert main["parameters"]["useContainerRegistry"]["default"] is False
    assert body(main["modules"]["ml"])["params"]["useContainerRegistry"] == "useContainerRegistry"
    assert body(main["modules"]["functionApp"])["params"]["amlBuildImage"] == "useContainerRegistry"
    ml = parsed(INFRA / "modules" / "ml.bicep")
    assert not declared(INFRA / "modules" / "ml.bicep", "Microsoft.ContainerRegistry/registries")
    registry = ml["modules"]["registry"]
    assert registry["detail"]["path"] == "ml-registry.bicep"
    assert registry["config"]["condition"] == "useContainerRegistry"
    (workspace,) = declared(INFRA / "modules" / "ml.bicep", "Microsoft.MachineLearningServices/workspaces")
    reference = workspace["properties"]["containerRegistry"]["operator"]
    assert reference["type"] == "conditional" and reference["operands"]["condition"] == "useContainerRegistry"
    assert reference["operands"]["false_value"] is None
    # The app builds an image exactly when the registry exists (an image build would otherwise make Azure ML create a
    # registry of its own, outside these templates).
    assert app_settings()["TRIAGE_AML_BUILD_IMAGE"]["operator"]["operands"]["condition"] == "amlBuildImage"
    parameters = json.loads((INFRA / "main.parameters.json").read_text(encoding="utf-8"))["parameters"]
    assert parameters["useContainerRegistry"]["value"] == "${TRIAGE_USE_CONTAINER_REGISTRY=false}"


def default_image_of_the_app() -> str | None:
    """DEFAULT_IMAGE of the app's Azure ML adapter, wherever the package keeps it (read, not imported)."""
    for path in sorted((ROOT / "triage").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "DEFAULT_IMAGE"
                                                    for t in node.targets):
                return ast.literal_eval(node.value)
    return None


def test_the_smoke_test_checks_the_image_the_app_uses() -> None:
    image = default_image_of_the_app()
    assert image and image.startswith("mcr.microsoft.com/azureml/")  # public, anonymous pull: no registry of ours
    assert f'IMAGE="${{TRIAGE_AML_IMAGE:-{image}}}"' in source("smoke.sh")
    assert f"'{image}'" in source("smoke.ps1")
