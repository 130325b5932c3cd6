"""What the service puts on boards in the corner cases: a takeover hides the rest (and only what is
shown counts as shown), a board with nothing left goes dark rather than keep a cancelled notice,
and a bulletin restored after a long outage is made again rather than shown as current."""

from __future__ import annotations

from datetime import timedelta

from ledctl.notices.users import User
from ledctl.service import BULLETIN_KEY, Service
from tests.chain import approve_fully

LI, WANG = User("li", "approver"), User("wang", "operator")


def publish(notices, clock, **kw):
    args = dict(title="通知", text="明天上午停水，请提前储水。", level="normal", targets=["board:zbs-01"],
                end=clock.now() + timedelta(hours=2))
    args.update(kw)
    n = notices.draft(WANG, **args)
    approve_fully(notices, n.id)
    return notices.publish(WANG, n.id)


def test_a_takeover_hides_the_rest_and_only_it_counts_as_shown(service_world) -> None:
    service, notices, fleet, clock = service_world
    normal = publish(notices, clock)
    urgent = publish(notices, clock, level="emergency", title="紧急通知", text="化学品泄漏，请关闭门窗。")
    service.recompose(clock.now())
    service.dispatcher.settle()
    row = service.store.boards()["zbs-01"]
    assert row.confirmed_items == (f"notice:{urgent.id}",)  # not the bulletin, not the normal notice
    texts = " ".join(fleet.boards["zbs-01"].device.text_areas.values())
    assert "化学品泄漏" in texts and "停水" not in texts
    notices.cancel(WANG, urgent.id, "解除")
    service.recompose(clock.now())
    service.dispatcher.settle()
    row = service.store.boards()["zbs-01"]
    assert f"notice:{normal.id}" in row.confirmed_items
    assert any(i.startswith("bulletin@") for i in row.confirmed_items)


def test_a_board_with_nothing_left_goes_dark(service_world) -> None:
    service, notices, fleet, clock = service_world
    n = publish(notices, clock, level="emergency", title="紧急通知", text="化学品泄漏，请关闭门窗。")
    service._bulletin_items.pop("zbs-01")  # as if its bulletin could not be rendered
    service.recompose(clock.now())
    service.dispatcher.settle()
    card = fleet.boards["zbs-01"].device
    assert card.text_areas
    notices.cancel(WANG, n.id, "解除")
    service.recompose(clock.now())
    service.dispatcher.settle()
    assert not card.text_areas  # the cancelled notice is gone …
    assert card.snapshot().getbbox() is None  # … and the board is dark, not showing something stale
    assert service.store.boards()["zbs-01"].intended_summary.startswith("idle")


def test_a_bulletin_restored_after_a_long_outage_is_made_again(service_world) -> None:
    service, notices, _, clock = service_world
    old = clock.now() - timedelta(days=3)
    service.store.put(BULLETIN_KEY, old.isoformat())
    clock.advance(minutes=1)
    again = Service(service.dep, service.store, clock, notices=notices)
    again.start(workers=False)
    assert again.bulletin is not None and again.bulletin.issued == clock.now()
    assert service.store.get(BULLETIN_KEY) == clock.now().isoformat()
