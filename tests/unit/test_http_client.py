"""kernel/http_client.py: calls out that never block the controllers' event loop."""

import threading

from nozama.kernel.http_client import BackgroundCalls


def test_a_call_answers_on_a_later_ask_and_frees_its_key():
    calls, release = BackgroundCalls(workers=1), threading.Event()
    started = []

    def hook(answer):
        started.append(answer)
        release.wait(5)
        return answer

    assert calls.result("d1|pre-0", hook, "SUCCEEDED") is BackgroundCalls.NOT_DONE
    assert calls.running("d1|pre-0")
    # Asked again while it runs: no second call is started.
    assert calls.result("d1|pre-0", hook, "SUCCEEDED") is BackgroundCalls.NOT_DONE
    release.set()
    while calls.result("d1|pre-0", hook, "SUCCEEDED") is BackgroundCalls.NOT_DONE:
        release.wait(0.01)
    assert started == ["SUCCEEDED"] and not calls.running("d1|pre-0")
    calls.shutdown()


def test_no_thread_until_the_first_call():
    before = threading.active_count()
    calls = BackgroundCalls()
    assert threading.active_count() == before
    calls.shutdown()
