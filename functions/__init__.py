"""Thin trigger adapters: decode the binding, call one use case of ``triage.app``, return or raise."""

from .dashboard import bp as dashboard
from .health import bp as health
from .labeler import bp as labeler
from .models import bp as models
from .scrape import bp as scrape
from .status import bp as status
from .training import bp as training
from .webhook import bp as webhook

BLUEPRINTS = [health, webhook, labeler, scrape, training, models, status, dashboard]
