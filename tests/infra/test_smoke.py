"""The smoke test (infra/hooks/smoke.sh) against a loopback stand-in for the deployed app.

The stand-in (tests/infra/standin.py) serves the real Function app's HTTP functions on embedded stores, with the
Functions host's key checks and, when asked, App Service Authentication in front; `az` is a fake that answers canned
JSON (tests/infra/fakes.py). So the script's HTTP checks (health, signed and unsigned webhook pings, the function key,
the dashboard's sign-in redirect) meet the app's own answers, and its Azure checks meet the answers a subscription
gives. smoke.ps1 cannot run here (no pwsh): it is checked statically for the same checks, commands and messages.
"""

from __future__ import annotations

import os
import re
import select
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pycep import BicepParser

from tests.infra.fakes import answer, hook_env, install, install_sleep

ROOT = Path(__file__).resolve().parents[2]
HOOKS = ROOT / "infra" / "hooks"
SECRET = "smoke-test-webhook-secret-0123456789abcdef"  # the app requires at least 32 characters
FUNCTION_KEY = "smoke-test-function-key"
IMAGE_REPO = "azureml/openmpi5.0-cuda12.4-ubuntu22.04:latest"
CHECKS = ["health", "webhook signed ping", "webhook unsigned ping", "status", "status without key", "dashboard",
          "event grid", "ml compute", "ml environment", "budget"]

pytestmark = pytest.mark.skipif(not all(shutil.which(tool) for tool in ("sh", "curl", "openssl")),
                                reason="needs sh, curl and openssl")


def excluded_paths() -> list[str]:
    """The paths App Service Authentication lets through, as functionapp-auth.bicep declares them."""
    template = BicepParser().parse(file_path=ROOT / "infra" / "modules" / "functionapp-auth.bicep")
    return template["variables"]["excludedPaths"]["value"]


class StandIn:
    """The stand-in app in a child process, on 127.0.0.1."""

    def __init__(self, home: Path, easy_auth: bool) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TRIAGE_", "AZURE_", "WEBSITE_", "GITHUB_"))}
        env.update({
            "TRIAGE_HOME": str(home),
            "TRIAGE_WEBHOOK_SECRET": SECRET,
            "TRIAGE_REPOSITORIES": "octo/widgets",
            "TRIAGE_DRY_RUN": "true",
            "TRIAGE_DASHBOARD_AUTH": "easyauth",
            "TRIAGE_DASHBOARD_SECRET": "smoke-test-dashboard-secret-0123456789abcdef",
            "TRIAGE_DASHBOARD_MAINTAINERS": "alice@example.com",
            "PYTHONPATH": str(ROOT),
        })
        command = [sys.executable, "-m", "tests.infra.standin", "--function-key", FUNCTION_KEY, "--image", IMAGE_REPO]
        if easy_auth:
            command += ["--easy-auth", "--excluded", ",".join(excluded_paths())]
        home.mkdir(parents=True, exist_ok=True)
        self.log = home / "standin.log"  # its stderr: a file, so that a full pipe can never block the server
        with self.log.open("w") as log:
            self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=log, text=True)
        ready, _, _ = select.select([self.process.stdout], [], [], 120)
        line = self.process.stdout.readline() if ready and self.process.stdout else ""
        if not line.startswith("READY "):
            self.stop()
            errors = self.log.read_text(errors="replace")[-3000:]
            raise AssertionError(f"the stand-in did not start (does `import function_app` work?):\n{errors}")
        self.url = f"http://127.0.0.1:{int(line.split()[1])}"

    def stop(self) -> None:
        self.process.kill()
        self.process.communicate(timeout=30)


@pytest.fixture(params=[True, False], ids=["easy-auth", "no-easy-auth"])
def app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[StandIn]:
    standin = StandIn(tmp_path_factory.mktemp("triage-home"), easy_auth=request.param)
    yield standin
    standin.stop()


@pytest.fixture()
def easy_auth_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StandIn]:
    standin = StandIn(tmp_path_factory.mktemp("triage-home"), easy_auth=True)
    yield standin
    standin.stop()


def azure(secret: dict[str, Any] | None = None, **overrides: Any) -> list[tuple[str, Any]]:
    """Canned answers of a healthy subscription; overrides replace one by its key."""
    answers = {
        "secret": secret or answer(SECRET),
        "keys": answer(FUNCTION_KEY),
        "eventgrid": answer("Succeeded"),
        "compute": answer("Succeeded\tStandard_NC4as_T4_v3\tLowPriority\t0"),
        "budget": answer("1"),
        **overrides,
    }
    return [
        (r"^keyvault secret show --subscription sub --vault-name kv-x --name triage-webhook-secret", answers["secret"]),
        (r"^functionapp keys list .*-n func-x --query functionKeys\.default", answers["keys"]),
        (r"^eventgrid system-topic event-subscription show .*--system-topic-name evgt-x -n model-created",
         answers["eventgrid"]),
        (r"^resource show .*--parent workspaces/mlw-x --resource-type computes -n gpu-cluster", answers["compute"]),
        (r"^rest --method get --url /subscriptions/sub/resourceGroups/rg-x/providers/Microsoft\.Consumption/budgets\?"
         r".*name=='budget-x'", answers["budget"]),
        *answers.get("extra", []),
    ]


def run_smoke(tmp_path: Path, app: StandIn, rules: list[tuple[str, Any]], **values: str) -> tuple[
        subprocess.CompletedProcess[str], list[str]]:
    bin_dir = tmp_path / "bin"
    az = install(bin_dir, "az", rules)
    install_sleep(bin_dir)
    host = app.url.removeprefix("http://")
    env = hook_env(bin_dir, **{
        "AZURE_SUBSCRIPTION_ID": "sub", "AZURE_RESOURCE_GROUP": "rg-x", "AZURE_ENV_NAME": "x",
        "AZURE_LOCATION": "eastus", "AZURE_FUNCTION_APP_NAME": "func-x", "AZURE_FUNCTION_APP_URL": app.url,
        "AZURE_KEY_VAULT_NAME": "kv-x", "AZURE_KEY_VAULT_WEBHOOK_SECRET": "triage-webhook-secret",
        "AZURE_EVENTGRID_SYSTEM_TOPIC_NAME": "evgt-x", "AZURE_ML_WORKSPACE_NAME": "mlw-x",
        "AZURE_ML_COMPUTE_NAME": "gpu-cluster", "TRIAGE_AML_IMAGE": f"{host}/{IMAGE_REPO}",
        "SMOKE_REGISTRY_SCHEME": "http", **values})
    result = subprocess.run(["sh", str(HOOKS / "smoke.sh")], env=env, capture_output=True, text=True, timeout=300,
                            check=False, cwd=ROOT)
    assert FUNCTION_KEY not in result.stdout + result.stderr and SECRET not in result.stdout + result.stderr
    return result, az.calls()


def results(output: str) -> dict[str, str]:
    """check name -> PASS, FAIL or SKIP, from the script's result lines."""
    return {m.group(2): m.group(1) for m in re.finditer(r"^(PASS|FAIL|SKIP)  ([^:]+): ", output, re.MULTILINE)}


def test_a_healthy_deployment_passes_every_check(tmp_path: Path, app: StandIn) -> None:
    # With App Service Authentication (DASHBOARD_CLIENT_ID set): the dashboard redirects to the sign-in. Without it,
    # the dashboard answers 503 until the maintainer registers the app, which is expected after a first `azd up`.
    easy_auth = "--easy-auth" in app.process.args
    result, calls = run_smoke(tmp_path, app, azure(), **({"DASHBOARD_CLIENT_ID": "client-id"} if easy_auth else {}))
    assert result.returncode == 0, result.stdout + result.stderr
    assert results(result.stdout) == {check: "PASS" for check in CHECKS}, result.stdout
    assert "smoke: 10 passed, 0 failed, 0 skipped" in result.stdout
    dashboard = next(line for line in result.stdout.splitlines() if line.startswith("PASS  dashboard"))
    assert ("302 to /.auth/login/aad" in dashboard) if easy_auth else ("503 until" in dashboard)
    assert all(not c.startswith(("deployment", "ml job create", "functionapp restart")) for c in calls)  # reads only


def test_the_dashboard_answering_503_while_sign_in_is_configured_fails(tmp_path: Path) -> None:
    # The platform did not turn App Service Authentication on (no WEBSITE_AUTH_ENABLED): the app refuses with 503.
    standin = StandIn(tmp_path / "home", easy_auth=False)
    try:
        result, _ = run_smoke(tmp_path, standin, azure(), DASHBOARD_CLIENT_ID="client-id")
    finally:
        standin.stop()
    assert result.returncode == 1
    assert results(result.stdout)["dashboard"] == "FAIL"
    assert "503: App Service Authentication is not active" in result.stdout
    assert "smoke: 9 passed, 1 failed, 0 skipped" in result.stdout


def test_a_webhook_secret_the_app_does_not_have_fails_the_signed_ping(tmp_path: Path, easy_auth_app: StandIn) -> None:
    result, _ = run_smoke(tmp_path, easy_auth_app, azure(answer("another-secret-that-the-app-does-not-know-at-all")),
                          DASHBOARD_CLIENT_ID="client-id")
    assert result.returncode == 1
    outcome = results(result.stdout)
    assert outcome["webhook signed ping"] == "FAIL" and outcome["webhook unsigned ping"] == "PASS"
    assert "az functionapp restart" in result.stdout


def test_no_webhook_secret_yet_skips_the_webhook_checks(tmp_path: Path, easy_auth_app: StandIn) -> None:
    missing = answer(stderr="(SecretNotFound) A secret with (name/id) triage-webhook-secret was not found.", exit=1)
    result, _ = run_smoke(tmp_path, easy_auth_app, azure(missing), DASHBOARD_CLIENT_ID="client-id")
    assert result.returncode == 0, result.stdout
    outcome = results(result.stdout)
    assert outcome["webhook signed ping"] == outcome["webhook unsigned ping"] == "SKIP"
    assert "docs/deploy.md step 3" in result.stdout and "smoke: 8 passed, 0 failed, 2 skipped" in result.stdout


def test_azure_side_failures_are_reported_each_with_what_to_do(tmp_path: Path, easy_auth_app: StandIn) -> None:
    result, _ = run_smoke(tmp_path, easy_auth_app, azure(
        eventgrid=answer("Failed"), budget=answer("0"), compute=answer(stderr="ResourceNotFound", exit=3)),
        DASHBOARD_CLIENT_ID="client-id", TRIAGE_AML_IMAGE=f"{easy_auth_app.url.removeprefix('http://')}/azureml/nope:1")
    assert result.returncode == 1
    outcome = results(result.stdout)
    assert [c for c in CHECKS if outcome[c] == "FAIL"] == ["event grid", "ml compute", "ml environment", "budget"]
    assert "azd hooks run postdeploy" in result.stdout and "azd hooks run postprovision" in result.stdout
    assert "TRIAGE_AML_IMAGE" in result.stdout


AML = r"^rest --method get --url /subscriptions/sub/providers/Microsoft\.MachineLearningServices/locations/eastus"
ML_QUOTA = [(AML + "/vmSizes", answer("standardNCASv3_T4Family\t4\tTrue"))]


def usages(low_priority_free: int) -> tuple[str, Any]:
    return (AML + "/usages", answer("Microsoft.MachineLearningServices/lowPriorityCores/usages\t"
                                    f"Total Cluster LowPriority Regional vCPUs\t0\t{low_priority_free}"))


def test_the_optional_gpu_job_runs_when_asked_and_quota_allows(tmp_path: Path, easy_auth_app: StandIn) -> None:
    jobs = [*ML_QUOTA, usages(8), (r"^ml job --help", answer("Commands:")),
            (r"^ml job create .*-w mlw-x --file ", answer("smoke-job-1")),
            (r"^ml job show .*-n smoke-job-1 --query status",
             [answer("Queued"), answer("Running"), answer("Completed")])]
    result, calls = run_smoke(tmp_path, easy_auth_app, azure(extra=jobs), DASHBOARD_CLIENT_ID="client-id",
                              TRIAGE_SMOKE_JOB="true")
    assert result.returncode == 0, result.stdout
    assert results(result.stdout)["ml job"] == "PASS" and "smoke-job-1 completed on gpu-cluster" in result.stdout
    (job_file,) = [c for c in calls if c.startswith("file: ")]
    assert "nvidia-smi" in job_file and f"image: {easy_auth_app.url.removeprefix('http://')}/{IMAGE_REPO}" in job_file
    assert "compute: azureml:gpu-cluster" in job_file
    # Without quota for one node, the job is skipped, not submitted.
    result, calls = run_smoke(tmp_path, easy_auth_app, azure(extra=[*ML_QUOTA, usages(0)]),
                              DASHBOARD_CLIENT_ID="client-id", TRIAGE_SMOKE_JOB="true")
    assert result.returncode == 0 and results(result.stdout)["ml job"] == "SKIP"
    assert "Not enough Azure ML LowPriority quota" in result.stdout and not [c for c in calls if "job create" in c]


# ---------------------------------------------------------------------------------------------------------------
# smoke.ps1: the same checks, statically
# ---------------------------------------------------------------------------------------------------------------

def test_smoke_ps1_makes_the_same_checks_with_the_same_commands() -> None:
    sh = (HOOKS / "smoke.sh").read_text(encoding="utf-8")
    ps1 = re.sub(r"'\s*,\s*'", " ", (HOOKS / "smoke.ps1").read_text(encoding="utf-8"))  # ('a', 'b') -> 'a b'

    names_sh = set(re.findall(r'^\s*(?:pass|fail|skip) "([^"$]+)"', sh, re.MULTILINE))
    names_sh |= set(re.findall(r'\) (?:pass|fail|skip) "([^"$]+)"', sh))
    names_ps1 = set(re.findall(r"(?:Pass|Fail|Skip) '([^']+)'", ps1))
    assert names_sh == set(CHECKS) | {"ml registry", "ml job"} == names_ps1, (names_sh, names_ps1)
    for needle in ("keyvault secret show", "functionapp keys list", "functionKeys.default",
                   "eventgrid system-topic event-subscription show", "resource show", "--resource-type computes",
                   "Microsoft.Consumption/budgets", "acr show", "ml job create", "ml job show", "ml job cancel",
                   "/api/health", "/api/github/webhook", "/api/status", "/api/dashboard", "X-Hub-Signature-256",
                   "X-GitHub-Event", "x-functions-key", "/.auth/login/", "TRIAGE_SMOKE_JOB", "TRIAGE_AML_IMAGE",
                   "SMOKE_REGISTRY_SCHEME", "docs/deploy.md step 3", "docs/deploy.md step 7",
                   "azd hooks run postdeploy", "azd hooks run postprovision", "az functionapp restart", "smoke: "):
        assert needle in sh and needle in ps1, needle
    # PowerShell computes the HMAC in process: the secret is never on a command line there.
    assert "HMACSHA256" in ps1 and "openssl" not in ps1
