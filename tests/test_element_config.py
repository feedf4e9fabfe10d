"""Element Web's config.json for a deployment: nothing that leaks outside the care network."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bots import element


def test_rendered_config_turns_off_guests_analytics_integrations_widgets_previews():
    config = element.render("https://matrix.chu.example/", "chu.example",
                            "https://element.chu.example")
    assert config["default_server_config"]["m.homeserver"] == {
        "base_url": "https://matrix.chu.example", "server_name": "chu.example"}
    assert config["disable_guests"] is True and config["disable_3pid_login"] is True
    assert config["disable_custom_urls"] is True
    assert not any("posthog" in key or "piwik" in key or "analytics" in key for key in config)
    # Element's own defaults point at scalar.vector.im: they must be overridden, not omitted.
    assert config["integrations_ui_url"] == config["integrations_rest_url"] == ""
    assert config["integrations_widgets_urls"] == []
    settings = config["setting_defaults"]
    assert settings["urlPreviewsEnabled"] is False and settings["urlPreviewsEnabled_e2ee"] is False
    assert settings["UIFeature.widgets"] is False and settings["UIFeature.voip"] is False
    assert config["permalink_prefix"] == "https://element.chu.example"
    assert "sso_redirect_options" not in config


def test_sso_goes_straight_to_the_identity_provider():
    config = element.render("https://m.example", "example", "https://e.example", sso=True)
    assert config["sso_redirect_options"] == {"immediate": True}


def test_a_value_cannot_break_out_of_its_string():
    config = element.render('https://m.example", "disable_guests": false, "x": "', "example",
                            "https://e.example")
    assert config["disable_guests"] is True


def test_command_writes_valid_json(tmp_path: Path):
    out = tmp_path / "element" / "config.json"
    done = subprocess.run([sys.executable, "-m", "bots.cli", "element-config",
                           "--homeserver-url", "https://matrix.chu.example",
                           "--server-name", "chu.example", "--element-url",
                           "https://element.chu.example", "--sso", "--out", str(out)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    config = json.loads(out.read_text())
    assert config["disable_guests"] is True and config["sso_redirect_options"]["immediate"]
