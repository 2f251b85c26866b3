"""The page in headless Chromium: compute, provenance, inert comments, no request leaving 127.0.0.1."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
HOSTILE = ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>"]

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium "
                                                               "(apt-get install -y chromium)")


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900},
                                  permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def test_compute_comments_and_isolation(page, shared_server) -> None:
    hosts, dialogs, errors = set(), [], []
    page.on("request", lambda request: hosts.add(urlsplit(request.url).hostname))
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.on("pageerror", lambda error: errors.append(str(error)))

    page.goto(shared_server.url + "/")
    page.wait_for_selector("#operation option[value='transpose']", state="attached")
    assert page.input_value("#operation") == "transpose"
    assert "no model" in page.locator("#operation option[value='sum']").inner_text()

    page.get_by_role("button", name="Add a column to A").click()
    page.get_by_role("button", name="Add a row to A").click()
    for i in range(3):
        for j in range(3):
            page.get_by_label(f"A row {i + 1} column {j + 1}", exact=True).fill(str(3 * i + j + 1))
    page.get_by_role("button", name="Compute").click()

    page.locator("#result").wait_for(state="visible")
    assert page.locator("#provenance").inner_text().startswith("Computed by the transformer")
    assert "not trained" not in page.locator("#provenance").inner_text()
    assert page.locator(".model-side table.matrix td").count() == 9
    exact = page.locator(".exact-side table.matrix td").all_inner_texts()
    assert exact == ["1", "4", "7", "2", "5", "8", "3", "6", "9"]
    assert page.locator(".errors td").count() == 9
    per_number, whole = (float(page.locator(f"dt:text-is('{term}') + dd").inner_text().rstrip("%"))
                         for term in ("Confidence, a number", "Confidence, whole answer"))
    assert 0 <= whole <= per_number <= 100  # nine numbers: the whole answer is the less likely
    calibration = page.locator("#verdicts .calibration").inner_text()  # what such a confidence has meant
    assert calibration.startswith("Of the 4") and "test answers of this model with a confidence a number" in calibration
    assert calibration.endswith("25% were right within 5% (25% within 1%).")
    assert page.locator("#card-list").inner_text().count("encoder") == 1
    card = page.locator("#card-list").inner_text()
    assert "the singular values model, whose 0.5 h are in the training CPU time" in card
    assert "#op=transpose" in page.url

    page.get_by_role("button", name="as NumPy").click()
    page.get_by_text("Copied.").wait_for()
    assert page.evaluate("navigator.clipboard.readText()").startswith("np.array([[")
    page.get_by_role("button", name="as LaTeX").click()
    page.get_by_text("Copied.").wait_for()
    assert page.evaluate("navigator.clipboard.readText()").startswith("\\begin{pmatrix}")

    for text in HOSTILE:
        page.fill("#comment-text", text)
        page.get_by_role("button", name="Post").click()
        page.locator(".comment-text", has_text=text).wait_for()
    shown = page.locator(".comment-text").all_inner_texts()
    assert shown[:2] == HOSTILE[::-1]
    assert page.locator("#comment-list script, #comment-list img").count() == 0

    visitors = page.locator("#stat-visitors").inner_text()
    assert visitors.isdigit()
    page.reload()
    page.locator(".comment-text", has_text=HOSTILE[1]).wait_for()
    page.wait_for_timeout(300)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "calculator.png"), full_page=True)

    assert page.locator("#stat-visitors").inner_text() == visitors  # the same visitor after a reload
    assert dialogs == []
    assert errors == []
    assert hosts == {"127.0.0.1"}


def test_shared_link_reopens_the_problem_with_beams(page, shared_server) -> None:
    page.goto(shared_server.url + "/#op=transpose&beam=4&m=1,2;3,4")
    page.locator("#result").wait_for(state="visible")
    assert page.input_value("#beam") == "4"
    assert page.get_by_label("A row 2 column 1", exact=True).input_value() == "3"
    assert page.locator(".beam-table > tbody > tr").count() == 4
    assert page.locator(".exact-side td").all_inner_texts() == ["1", "3", "2", "4"]


def test_an_untrained_size_is_named_in_the_provenance_and_the_card(page, shared_server) -> None:
    page.goto(shared_server.url + "/#op=transpose&m=7")  # the tiny zoo's model is trained on 2x2 to 5x5
    page.locator("#result").wait_for(state="visible")
    assert "on a size it was not trained on" in page.locator("#provenance").inner_text()
    assert "accuracy at 1x1 (not a trained size)" in page.locator("#card-list").inner_text().lower()
    tops = page.locator(".trio table.matrix tbody tr:first-child").evaluate_all(
        "rows => rows.map(row => row.getBoundingClientRect().top)")
    assert len(tops) == 3 and max(tops) - min(tops) < 1  # a one-column error map's caption does not push it down


def test_whole_numbers_are_quoted_the_typed_test_set(page, shared_server) -> None:
    page.goto(shared_server.url + "/#op=transpose&m=1,0;3,4")
    page.locator("#result").wait_for(state="visible")
    assert "25% were right" in page.locator("#verdicts .calibration").inner_text()
    assert " typed test answers of this model" in page.locator("#verdicts .calibration").inner_text()
    assert "accuracy at 2x2 on typed test (whole numbers, zeros)" in page.locator("#card-list").inner_text().lower()
    assert "accuracy at 2x2 on 2,000 more problems\n1%: 97% — the bar (99%) is not met" in page.locator(
        "#card-list").inner_text().lower()
    page.goto(shared_server.url + "/#op=transpose&m=1.5,0;3,4")
    page.reload()
    page.locator("#result").wait_for(state="visible")
    assert " uniform test answers of this model" in page.locator("#verdicts .calibration").inner_text()


def test_keyboard_only(page, shared_server) -> None:
    page.goto(shared_server.url + "/")
    page.wait_for_selector("#operation option[value='transpose']", state="attached")
    page.focus("#operation")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "beam"
    page.get_by_label("A row 1 column 1", exact=True).focus()
    page.keyboard.type("7")
    page.keyboard.press("Enter")
    page.locator("#result").wait_for(state="visible")
    assert page.locator(".exact-side td").first.inner_text() == "17"


def test_model_unavailable_is_labelled(page, shared_server) -> None:
    page.goto(shared_server.url + "/#op=sum&beam=1&m=1,2;3,4&m=10,20;30,40")
    page.locator("#result").wait_for(state="visible")
    provenance = page.locator("#provenance").inner_text()
    assert "model unavailable" in provenance.lower()
    assert page.locator(".exact-side td").all_inner_texts() == ["11", "22", "33", "44"]
    assert "no answer" in page.locator(".model-side").inner_text()


def test_paste_formats(page, shared_server) -> None:
    page.goto(shared_server.url + "/")
    page.wait_for_selector("#operation option[value='transpose']", state="attached")
    parsed = page.evaluate("""async () => {
        const { parseMatrix } = await import("/parse.js");
        const inputs = ["1\\t2\\n3\\t4", "1, 2\\n3, 4", "[[1, 2], [3, 4]]", "[1 2; 3 4]",
                        "array([[1., 2.],\\n [3., 4.]])", "[[1 2]\\n [3 4]]"];
        return inputs.map((text) => parseMatrix(text));
    }""")
    assert parsed == [[[1, 2], [3, 4]]] * 6
    page.locator("summary", has_text="Paste a matrix").click()
    page.fill("#paste-text", "[1 2 3; 4 5 6]")
    page.get_by_role("button", name="Fill the grid").click()
    assert page.get_by_label("A row 2 column 3", exact=True).input_value() == "6"
    page.fill("#paste-text", "1 2\n3")
    page.get_by_role("button", name="Fill the grid").click()
    assert "different lengths" in page.locator("#paste-error").inner_text()


def test_a_scratchpad_is_shown_beside_the_exact_working_and_not_judged(page, scratchpad_server) -> None:
    page.goto(scratchpad_server.url + "/#op=singular_values&m=1,2,3;4,5,6")
    page.locator("#result").wait_for(state="visible")
    pad = page.locator(".scratchpad")
    assert "Gram matrix (written before the answer, not judged)" in pad.locator("h3").inner_text()
    assert pad.locator(".model-side td").count() == 4
    assert pad.locator(".exact-side td").all_inner_texts() == ["14", "32", "32", "77"]
    assert page.locator(".part:not(.scratchpad) .exact-side td").count() == 2  # the answer: two singular values
    assert "writes its Gram matrix first" in page.locator("#card-list").inner_text()
