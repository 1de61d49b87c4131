"""The console in headless Chromium: sign in, bind GitLab (a wrong token first), create a
repository from the drop-downs with a rule preview and build options (a secret build arg,
no cache), push, watch the live log reach success, rebuild and cancel (after a confirmation);
then every page at desktop and phone width, light and dark, with a screenshot of each
(``page-<name>-<desktop|phone>-<light|dark>.png``) and no sideways scroll on a phone."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import docker
import pytest
from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

from buildsvc.errors import SOURCE_ERROR_RESPONSE_MESSAGE
from tests.buildsvc.console.conftest import ConsoleStack
from tests.common.api_stack import EXAMPLE_DOCKERFILE, push_example
from tests.common.services import ensure_services

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

Shot = Callable[[str], Path]
Pages = list[tuple[str, str]]
SECRET_ARG = "npm_browser-s3cret"
# The example, with a RUN step slow enough (uncached) for Cancel to catch it.
DOCKERFILE = EXAMPLE_DOCKERFILE.replace('"built from the test"', '"built from the test" && sleep 3')


def wait(browser: webdriver.Chrome, seconds: float = 15) -> WebDriverWait[webdriver.Chrome]:
    # A page replaced mid-check (a form posted, a redirect) is looked at again.
    return WebDriverWait(
        browser,
        seconds,
        ignored_exceptions=(NoSuchElementException, StaleElementReferenceException),
    )


def text_of(browser: webdriver.Chrome, css: str) -> str:
    return str(browser.find_element(By.CSS_SELECTOR, css).text)


def sign_in(browser: webdriver.Chrome, stack: ConsoleStack, shot: Shot) -> None:
    browser.get(f"{stack.url}/console")
    wait(browser).until(ec.url_contains("/console/login"))
    browser.find_element(By.ID, "token").send_keys("bsv_not-a-token")
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    error = wait(browser).until(ec.presence_of_element_located((By.ID, "login-error")))
    assert "unknown or revoked API token" in error.text
    shot("01-sign-in")
    browser.find_element(By.ID, "token").send_keys(stack.token + Keys.ENTER)
    wait(browser).until(ec.url_contains("/console/repositories"))


def bind_gitlab(browser: webdriver.Chrome, stack: ConsoleStack, shot: Shot) -> None:
    browser.find_element(By.LINK_TEXT, "Code Sources").click()
    cards = browser.find_elements(By.CSS_SELECTOR, ".provider-card h2")
    assert [card.text for card in cards] == ["GitLab", "GitHub", "Bitbucket", "Bitbucket Server"]
    shot("02-code-sources")

    def open_dialog() -> None:  # by keyboard: focus the button, press Enter
        browser.find_element(By.ID, "bind-button-gitlab").send_keys(Keys.ENTER)
        wait(browser).until(ec.visibility_of_element_located((By.ID, "url-gitlab")))

    open_dialog()
    dialog = browser.find_element(By.ID, "bind-gitlab")
    assert browser.switch_to.active_element == browser.find_element(By.ID, "url-gitlab")
    assert "not the URL of a repository" in dialog.find_element(By.ID, "url-hint-gitlab").text
    browser.find_element(By.ID, "url-gitlab").send_keys(stack.forge.url)
    browser.find_element(By.ID, "username-gitlab").send_keys("alice")
    browser.find_element(By.ID, "token-gitlab").send_keys("wrong-token")
    browser.find_element(By.ID, "bind-submit-gitlab").click()

    error = wait(browser).until(ec.visibility_of_element_located((By.ID, "bind-error")))
    assert SOURCE_ERROR_RESPONSE_MESSAGE in error.text
    assert "SOURCE_ERROR_RESPONSE" in error.text
    assert "401" in error.text  # the detail names the cause
    shot("03-bind-wrong-token")

    token_field = browser.find_element(By.ID, "token-gitlab")
    assert browser.switch_to.active_element == token_field  # the field to fix, not the URL
    assert token_field.get_attribute("aria-invalid") == "true"
    assert token_field.get_attribute("value") == ""  # a secret is never sent back
    token_field.send_keys(stack.forge_token)
    browser.find_element(By.ID, "bind-submit-gitlab").click()
    wait(browser).until(ec.url_contains("bound=gitlab"))
    card = browser.find_element(By.ID, "card-gitlab")
    assert "Bound" in card.text
    assert "alice" in card.text
    shot("04-code-sources-bound")


def create_repository(browser: webdriver.Chrome, registry: str, shot: Shot) -> None:
    browser.find_element(By.LINK_TEXT, "Repositories").click()
    browser.find_element(By.ID, "create-repository").click()
    namespace = Select(wait(browser).until(ec.element_to_be_clickable((By.ID, "source_namespace"))))
    assert "acme" in [option.get_attribute("value") for option in namespace.options]
    namespace.select_by_value("acme")
    wait(browser).until(
        lambda b: (
            "acme/app"
            in [
                o.get_attribute("value")
                for o in Select(b.find_element(By.ID, "source_repository")).options
            ]
        )
    )
    Select(browser.find_element(By.ID, "source_repository")).select_by_value("acme/app")
    assert browser.find_element(By.ID, "image_name").get_attribute("value") == "app"
    image_namespace = browser.find_element(By.ID, "image_namespace")
    image_namespace.clear()
    image_namespace.send_keys("team")
    browser.find_element(By.ID, "rule-pattern-1").send_keys("main")
    browser.find_element(By.ID, "rule-tag-1").send_keys("latest,{short_sha}")
    fill_rule_options(browser)
    browser.find_element(By.ID, "add-rule").click()
    check_added_rule_is_blank(browser)
    Select(browser.find_element(By.ID, "rule-type-2")).select_by_value("tag")
    browser.find_element(By.ID, "rule-pattern-2").send_keys("/v(?P<version>[0-9.]+)/")
    browser.find_element(By.ID, "rule-tag-2").send_keys("{version}")

    preview = browser.find_element(By.ID, "preview-result")
    wait(browser).until(lambda b: f"{registry}/team/app:1.2.0" in preview.text)
    assert f"{registry}/team/app:latest" in preview.text
    assert "develop" in preview.text
    assert "no rule matches" in preview.text
    shot("05-create-repository")
    browser.find_element(By.ID, "create-submit").click()
    wait(browser).until(ec.url_matches(r"/console/repositories/\d+$"))
    assert "team/app" in text_of(browser, "h1")


def fill_rule_options(browser: webdriver.Chrome) -> None:
    """Rule 1's options: a plain and a secret build arg, no cache."""
    browser.find_element(By.CSS_SELECTOR, "#rule-options-1 summary").click()
    args = wait(browser).until(ec.visibility_of_element_located((By.ID, "rule-build-args-1")))
    args.send_keys(f"GREETING=hello{Keys.ENTER}NPM_TOKEN={SECRET_ARG}")
    browser.find_element(By.ID, "rule-secret-build-args-1").send_keys("NPM_TOKEN")
    browser.find_element(By.ID, "rule-no-cache-1").click()
    summary = "#rule-options-1 [data-options-summary]"
    wait(browser).until(lambda b: text_of(b, summary) == "2 build args (1 secret), no cache")


def check_added_rule_is_blank(browser: webdriver.Chrome) -> None:
    """Add rule copied rule 1: its fields, labels and hints are rule 2's, and empty."""
    assert not browser.find_element(By.ID, "rule-options-2").get_attribute("open")
    browser.find_element(By.CSS_SELECTOR, "#rule-options-2 summary").click()
    args = wait(browser).until(ec.visibility_of_element_located((By.ID, "rule-build-args-2")))
    assert args.get_attribute("value") == ""
    assert args.get_attribute("aria-describedby") == "rule-build-args-hint-2"
    label = browser.find_element(By.CSS_SELECTOR, "label[for=rule-build-args-2]")
    assert label.text == "Build args"
    no_cache = browser.find_element(By.ID, "rule-no-cache-2")
    assert not no_cache.is_selected()
    assert no_cache.get_attribute("value") == "2"
    assert browser.find_element(By.ID, "rule-secret-build-args-2").get_attribute("value") == ""
    assert text_of(browser, "#rule-options-2 [data-options-summary]") == "none"
    browser.find_element(By.CSS_SELECTOR, "#rule-options-2 summary").click()  # close it again


def check_rule_options(browser: webdriver.Chrome) -> None:
    """The repository page lists rule 1's build args with the secret masked."""
    assert SECRET_ARG not in browser.page_source
    options = browser.find_element(By.CSS_SELECTOR, "#rules details.rule-options")
    assert options.find_element(By.TAG_NAME, "summary").text == (
        "2 build args (1 secret), no cache"
    )
    options.find_element(By.TAG_NAME, "summary").click()
    args = wait(browser).until(lambda b: b.find_element(By.CSS_SELECTOR, "#rules ul.plain"))
    assert args.text.splitlines() == ["GREETING=hello", "NPM_TOKEN=**** secret"]
    assert "every step runs again" in options.text
    assert len(browser.find_elements(By.CSS_SELECTOR, "#rules details.rule-options")) == 1


def check_badges(browser: webdriver.Chrome) -> None:
    """Each rule's badge shows on the repository page; rule 1's says succeeded."""
    browser.find_element(By.CSS_SELECTOR, "#badges summary").click()
    images = browser.find_elements(By.CSS_SELECTOR, "#badges img")
    assert len(images) == 2
    wait(browser).until(
        lambda b: all(b.execute_script("return arguments[0].naturalWidth", i) for i in images)
    )
    url = browser.find_element(By.CSS_SELECTOR, "#badges input").get_attribute("value")
    assert url is not None
    assert "?key=" in url
    assert "team" not in url  # the URL names no repository
    browser.find_element(By.CSS_SELECTOR, "#badges summary").click()  # closed again


def watch_push_build(browser: webdriver.Chrome, stack: ConsoleStack, shot: Shot) -> str:
    sha = push_example(
        stack.forge, stack.forge_token, "acme/app", stack.root / "work", dockerfile=DOCKERFILE
    )
    link = wait(browser, 30).until(
        lambda b: b.refresh() or b.find_elements(By.CSS_SELECTOR, "#deliveries a")
    )[0]
    assert "queued 1 build" in text_of(browser, "#deliveries")
    assert browser.find_element(By.ID, "auto-build").is_selected()
    link.click()
    wait(browser).until(ec.url_matches(r"/console/builds/\d+$"))
    assert sha in text_of(browser, "#build")
    wait(browser, 90).until(lambda b: text_of(b, "#build-status") == "succeeded")
    wait(browser).until(lambda b: "built from the test" in text_of(b, "#log"))
    wait(browser).until(lambda b: text_of(b, "#log-state") == "(complete)")
    assert text_of(browser, "#build-digest").startswith("sha256:")
    assert f"{stack.registry}/team/app:{sha[:7]}" in text_of(browser, "#build-tags")
    wait(browser).until(lambda b: text_of(b, "#build-size").endswith(("kB", "MB")))
    pull = browser.find_element(By.ID, "pull-command")
    assert pull.get_attribute("value") == f"docker pull {stack.registry}/team/app:latest"
    assert browser.find_element(By.ID, "copy-pull").is_displayed()
    log_top = browser.find_element(By.ID, "log").location["y"]
    assert log_top < browser.find_element(By.ID, "image").location["y"]  # the log first
    assert log_top < 700, "the log starts below the fold"
    assert "s" in text_of(browser, "#phases tr[data-phase=building] .phase-duration")
    assert browser.find_elements(By.ID, "cancel-build") == []
    shot("07-build-succeeded")
    return browser.current_url


def edit_rules(browser: webdriver.Chrome, registry: str) -> None:
    """Change rule 2's tags on the edit page, with the live preview, and save."""
    browser.find_element(By.ID, "edit-rules").click()
    wait(browser).until(ec.url_matches(r"/console/repositories/\d+/rules$"))
    assert browser.find_element(By.ID, "rule-tag-1").get_attribute("value") == "latest,{short_sha}"
    tag = browser.find_element(By.ID, "rule-tag-2")
    tag.clear()
    tag.send_keys("v{version}")
    preview = browser.find_element(By.ID, "preview-result")
    wait(browser).until(lambda b: f"{registry}/team/app:v1.2.0" in preview.text)
    browser.find_element(By.ID, "rules-submit").click()
    wait(browser).until(ec.url_matches(r"/console/repositories/\d+$"))
    assert "v{version}" in text_of(browser, "section[aria-labelledby=rules-title]")


def drop_build_cache(image: str) -> None:
    """Untag the built images, which deletes them and their untagged parents, then
    prune BuildKit's cache records no image holds any more: the engine's build cache.
    A rebuild of the same commit is otherwise done in a blink, before anyone could
    press Cancel."""
    api = docker.APIClient(base_url=ensure_services().docker_url)
    try:
        for found in api.images(name=image):
            for tag in found.get("RepoTags") or []:
                api.remove_image(tag, force=True)
        api.prune_builds()
    finally:
        api.close()


def rebuild_and_cancel(browser: webdriver.Chrome, registry: str, shot: Shot) -> None:
    drop_build_cache(f"{registry}/team/app")
    first = browser.current_url
    browser.find_element(By.ID, "rebuild").click()
    wait(browser).until(lambda b: b.current_url != first)
    assert text_of(browser, "#build-status") in {"queued", "fetching", "building", "pushing"}
    browser.find_element(By.ID, "cancel-build").click()
    asked = wait(browser).until(ec.alert_is_present())
    assert "Cancel build #" in asked.text
    asked.dismiss()  # changed one's mind: nothing happens
    assert text_of(browser, "#build-status") != "cancelled"
    browser.find_element(By.ID, "cancel-build").click()
    wait(browser).until(ec.alert_is_present()).accept()
    wait(browser).until(lambda b: text_of(b, "#build-status") == "cancelled")
    cancelled = wait(browser).until(ec.visibility_of_element_located((By.ID, "build-cancelled")))
    assert cancelled.text == "Cancelled by console-tests (token default) in the console."
    assert not browser.find_element(By.ID, "build-failure").is_displayed()  # no red error
    shot("08-build-cancelled")


def delete_latest(browser: webdriver.Chrome, stack: ConsoleStack) -> None:
    """The Registry page's Delete on ``latest``: asked first, then gone with its sha tag."""
    browser.get(stack.url + "/console/registry")
    delete = wait(browser).until(
        ec.element_to_be_clickable((By.CSS_SELECTOR, "button[id^='delete-tag-'][id$='-latest']"))
    )
    delete.click()
    asked = wait(browser).until(ec.alert_is_present())
    assert "Delete team/app:latest?" in asked.text
    asked.dismiss()  # nothing happens
    assert browser.find_elements(By.ID, "notice") == []
    delete.click()
    wait(browser).until(ec.alert_is_present()).accept()
    notice = wait(browser).until(ec.visibility_of_element_located((By.ID, "notice")))
    assert notice.text.startswith("Deleted tag latest and "), notice.text
    assert browser.find_elements(By.CSS_SELECTOR, "button[id^='delete-tag-']") == []


PHONE = 390
DESKTOP = (1280, 1100)


def show_as(browser: webdriver.Chrome, scheme: str, phone: bool) -> None:
    """Emulate the colour scheme (Chromium's flag for it is not reliable headless) and a
    phone's viewport, or the desktop window."""
    features = [{"name": "prefers-color-scheme", "value": scheme}]
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": features})
    if phone:
        metrics = {"width": PHONE, "height": 844, "deviceScaleFactor": 1, "mobile": True}
        browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
    else:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
        browser.set_window_size(*DESKTOP)


def tour(browser: webdriver.Chrome, stack: ConsoleStack, shot: Shot, pages: Pages) -> None:
    """Each page at desktop and phone width, light and dark, with a screenshot of each;
    at phone width no page may scroll sideways."""
    for scheme in ("light", "dark"):
        for phone in (False, True):
            show_as(browser, scheme, phone)
            for path, name in pages:
                browser.get(stack.url + path)
                wait(browser).until(
                    lambda b: b.execute_script("return document.readyState") == "complete"
                )
                if path == "/api/docs":  # drawn from the spec by script: measure it drawn
                    wait(browser).until(lambda b: b.find_elements(By.CSS_SELECTOR, "details.op"))
                dark = browser.execute_script(
                    "return matchMedia('(prefers-color-scheme: dark)').matches"
                )
                assert dark == (scheme == "dark")
                background = browser.execute_script(
                    "return getComputedStyle(document.documentElement).backgroundColor"
                )
                channels = [int(part) for part in background[4:-1].split(",")[:3]]
                assert (sum(channels) < 3 * 128) == (scheme == "dark"), (path, background)
                if phone:
                    width = browser.execute_script("return document.documentElement.scrollWidth")
                    assert width <= PHONE, f"{path} is {width}px wide at phone width"
                shot(f"page-{name}-{'phone' if phone else 'desktop'}-{scheme}")
    show_as(browser, "light", False)


def pages_of(browser: webdriver.Chrome, stack: ConsoleStack) -> Pages:
    """Every console page, with the repository and build the test made."""
    repository = browser.find_element(By.CSS_SELECTOR, "h1 small a").get_attribute("href")
    assert repository is not None
    repository_path = "/" + repository.split("/", 3)[3]
    build_path = "/" + browser.current_url.split("/", 3)[3]
    return [
        ("/console/repositories", "repositories"),
        ("/console/repositories?q=app", "repositories-search"),
        ("/console/repositories/new", "repository-new"),
        (repository_path, "repository"),
        (repository_path + "/rules", "repository-rules"),
        ("/console/builds", "builds"),
        ("/console/builds?status=cancelled", "builds-filtered"),
        (build_path, "build"),
        ("/console/sources", "code-sources"),
        ("/console/tokens", "api-tokens"),
        ("/api/docs", "api-docs"),
    ]


def test_console_end_to_end(
    browser: webdriver.Chrome, console_stack: ConsoleStack, screenshot: Shot
) -> None:
    tour(browser, console_stack, screenshot, [("/console/login", "sign-in")])
    sign_in(browser, console_stack, screenshot)
    bind_gitlab(browser, console_stack, screenshot)
    create_repository(browser, console_stack.registry, screenshot)
    build_page = watch_push_build(browser, console_stack, screenshot)
    browser.find_element(By.CSS_SELECTOR, "h1 small a").click()
    wait(browser).until(ec.url_matches(r"/console/repositories/\d+$"))
    check_rule_options(browser)
    check_badges(browser)
    shot_repository = screenshot("06-repository")
    assert shot_repository.exists()
    edit_rules(browser, console_stack.registry)
    browser.get(build_page)
    rebuild_and_cancel(browser, console_stack.registry, screenshot)
    pages = pages_of(browser, console_stack)
    browser.get(console_stack.url + "/console/builds")
    assert len(browser.find_elements(By.CSS_SELECTOR, "tbody tr")) == 2
    assert "team/app" in text_of(browser, "tbody tr .build-repository")
    tour(browser, console_stack, screenshot, pages)
    browser.get(console_stack.url + "/api/docs")
    wait(browser).until(lambda b: b.find_elements(By.CSS_SELECTOR, "details.op"))
    assert "/api/v1/repositories/{repository_id}/builds" in text_of(browser, "#apidocs")
    screenshot("11-api-docs")
    delete_latest(browser, console_stack)
