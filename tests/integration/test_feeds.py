"""Publish once, reach every channel (issue 19.1), with the real service and simulated fleet: the
morning bulletin and a published notice in /feed.atom (read by feedparser), /feed.json and — the
notice — /cap/alerts.xml (read by ledctl's own CAP reader, as another controller would), and a
webhook receiver on loopback that gets each once, signed, across a service restart."""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import timedelta

import feedparser
import pytest
from fastapi.testclient import TestClient

from ledctl.api.app import Console, create_app
from ledctl.config import Channel
from ledctl.notices import cap_bridge
from ledctl.notices.users import User, Users
from ledctl.publications import Publications
from ledctl.service import Service
from tests.chain import approve_fully

from ..unit.test_publications import SECRET, Receiver

pytestmark = pytest.mark.skipif(not shutil.which("mosquitto"), reason="needs mosquitto")
LI, WANG = User("li", "approver"), User("wang", "operator")


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def publish(notices, clock):
    n = notices.draft(WANG, title="停水通知", text="明天上午九点到十二点停水，请提前储水。", level="normal",
                      targets=["group:community"], end=clock.now() + timedelta(hours=3))
    approve_fully(notices, n.id)
    return notices.publish(WANG, n.id)


def test_feeds_carry_the_bulletin_and_the_notice(service_world, tmp_path) -> None:
    service, notices, _fleet, clock = service_world
    notice = publish(notices, clock)
    service.recompose(clock.now())
    console = Console(service.dep, service.store, Users(service.store.path), notices, clock, service=service)
    web = TestClient(create_app(console))

    atom = web.get("/feed.atom")
    assert atom.status_code == 200 and atom.headers["content-type"].startswith("application/atom+xml")
    feed = feedparser.parse(atom.content)
    assert not feed.bozo, feed.bozo_exception
    titles = [e.title for e in feed.entries]
    assert "停水通知" in titles and any(t.endswith("环境质量日报") for t in titles)
    bulletin = next(e for e in feed.entries if t_is_bulletin(e.title))
    assert "空气质量指数" in bulletin.summary and "示例" not in bulletin.title
    pictures = [link.href for link in bulletin.links if link.rel == "enclosure"]
    assert pictures and all(link.endswith(".png") for link in pictures)
    picture = web.get(pictures[0].replace("http://testserver", ""))
    assert picture.status_code == 200 and picture.content.startswith(b"\x89PNG")
    # Conditional GET: nothing new, nothing sent.
    assert web.get("/feed.atom", headers={"If-None-Match": atom.headers["etag"]}).status_code == 304
    since = {"If-Modified-Since": atom.headers["last-modified"]}
    assert web.get("/feed.atom", headers=since).status_code == 304

    items = web.get("/feed.json").json()
    assert items["version"] == "https://jsonfeed.org/version/1.1"
    [item] = [i for i in items["items"] if i["_ledctl"]["publication"] == f"notice:{notice.id}"]
    assert item["title"] == "停水通知" and "九点到十二点停水" in item["content_text"]

    # Another controller reads the CAP feed with `ledctl cap import`: our reader, no problems.
    problems: list[str] = []
    [alert] = cap_bridge.read_alerts(web.get("/cap/alerts.xml").content, "http://testserver/cap/alerts.xml",
                                     problems=problems)
    assert problems == [] and alert.msg_type == "Alert" and alert.blocks()[0].headline == "停水通知"

    # A cancellation is an update of the same item, and a Cancel in the CAP feed.
    notices.cancel(LI, notice.id, "停水计划取消")
    service.recompose(clock.now())
    feed = feedparser.parse(web.get("/feed.atom").content)
    [entry] = [e for e in feed.entries if e.id.endswith(f":notice:{notice.id}")]
    assert entry.title == "停水通知（已撤销）"
    [cancel] = cap_bridge.read_alerts(web.get("/cap/alerts.xml").content, "http://testserver/cap/alerts.xml")
    assert cancel.msg_type == "Cancel"
    page = web.get("/public")
    assert page.status_code == 200 and "屏幕实况" in page.text
    assert 'src="/public/boards/zbs-01.png"' in page.text
    assert web.get("/public/boards/zbs-01.png").content.startswith(b"\x89PNG")


def t_is_bulletin(title: str) -> bool:
    return title.endswith("环境质量日报")


def test_a_webhook_gets_each_publication_once_signed_across_a_restart(service_world, receiver, monkeypatch,
                                                                       tmp_path) -> None:
    service, notices, _fleet, clock = service_world
    monkeypatch.setenv("LEDCTL_HOOK_SECRET", SECRET)
    channels = (Channel("website", receiver.url, secret_env="LEDCTL_HOOK_SECRET"),)
    dep = replace(service.dep, channels=channels)
    first = Service(dep, service.store, clock, notices=notices)
    first.start(workers=False)
    clock.advance(days=1)
    first.broadcast(clock.now())  # the next morning's bulletin: queued for the channel
    publish(notices, clock)
    first.recompose(clock.now())
    queued = [d.publication for d in Publications(service.store.path).deliveries()]
    assert len(queued) == 2 and queued[0].startswith("bulletin:") and queued[1].startswith("notice:")

    # The first delivery goes; the service dies after the receiver took the second, before its
    # answer was recorded (the one window a crash can repeat a delivery in).
    calls = []
    real_sent = first.publications.sent

    def dies_on_the_second(seq, at, status):
        calls.append(seq)
        if len(calls) == 2:
            raise KeyboardInterrupt("the service is killed here")
        real_sent(seq, at, status)

    monkeypatch.setattr(first.publications, "sent", dies_on_the_second)
    assert first.sender is not None
    with pytest.raises(KeyboardInterrupt):
        first.sender.send_due()
    first.close()

    second = Service(dep, service.store, clock, notices=notices)  # the restart
    second.start(workers=False)
    assert second.sender is not None
    second.sender.send_due()
    second.sender.send_due()
    second.close()
    assert receiver.bad_signatures == 0
    ids = [g["id"] for g in receiver.got]
    # Nothing lost, nothing new after the restart; the repeat carries the same delivery id, so the
    # receiver that keeps the ids it processed (as the docs ask) handles each once.
    assert sorted(set(ids)) == [1, 2] and ids.count(1) == 1
    assert {g["publication"] for g in receiver.got} == set(queued)
    assert all(d.status == 200 for d in Publications(service.store.path).deliveries())
    # The disclosure report counts the items per channel: boards, feeds, each webhook.
    from ledctl import report

    label, start, end = report.period("2026-11", None, dep.tz)
    counted = report.build(service.store, notices.list(), [b.id for b in dep.boards], label, start, end)
    assert counted.channels["website"] == 2
    assert counted.channels["feeds"] >= 2 and counted.channels["boards"] >= 1
