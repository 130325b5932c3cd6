"""CAP 1.2 import and export: the spec's appendix examples, every rejection path, Atom feeds,
export→parse round trips, and "parse never crashes" properties."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledctl.errors import LedctlError
from ledctl.notices.cap import (
    NS,
    CapAlert,
    CapArea,
    CapError,
    CapOut,
    export_alert,
    format_time,
    parse_alert,
    parse_feed,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "cap"
PDT = timezone(timedelta(hours=-7))
CST = timezone(timedelta(hours=8))


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


STORM = fixture("example2-thunderstorm.xml")
QUAKE = fixture("example3-earthquake-update.xml")


def storm_with(old: str, new: str) -> bytes:
    """The thunderstorm example with one exact piece of text replaced."""
    text = STORM.decode("utf-8")
    assert old in text, old
    return text.replace(old, new, 1).encode("utf-8")


def quake_with(old: str, new: str) -> bytes:
    text = QUAKE.decode("utf-8")
    assert old in text, old
    return text.replace(old, new, 1).encode("utf-8")


# --- the spec's appendix examples -------------------------------------------------------------


def test_fixtures_are_the_verbatim_spec_files() -> None:
    for path in sorted(FIXTURES.glob("example*.xml")):
        data = path.read_bytes()
        assert data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<alert xmlns="' + NS.encode())
        assert data.endswith(b"</alert>\n") and b"\r" not in data


def test_thunderstorm() -> None:
    a = parse_alert(STORM, where="example2")
    assert isinstance(a, CapAlert)
    assert a.identifier == "KSTO1055887203"
    assert a.sender == "KSTO@NWS.NOAA.GOV"
    assert a.sent == datetime(2003, 6, 17, 14, 57, tzinfo=PDT)
    assert a.sent.utcoffset() == timedelta(hours=-7)
    assert a.sent_text == "2003-06-17T14:57:00-07:00"
    assert a.key == ("KSTO@NWS.NOAA.GOV", "KSTO1055887203", "2003-06-17T14:57:00-07:00")
    assert (a.status, a.msg_type, a.scope) == ("Actual", "Alert", "Public")
    assert a.references == () and a.note == ""
    assert a.language == "en-US"  # absent <language> means en-US
    assert a.event == "SEVERE THUNDERSTORM"
    assert (a.urgency, a.severity, a.certainty) == ("Immediate", "Severe", "Observed")
    assert a.expires == datetime(2003, 6, 17, 16, 0, tzinfo=PDT)
    assert a.effective is None and a.onset is None
    assert a.sender_name == "NATIONAL WEATHER SERVICE SACRAMENTO CA"
    assert a.headline == "SEVERE THUNDERSTORM WARNING"
    assert a.description.startswith(" AT 254 PM PDT...")  # text is kept verbatim
    assert a.instruction == "TAKE COVER IN A SUBSTANTIAL SHELTER UNTIL THE STORM PASSES."
    assert a.areas == (CapArea(
        desc="EXTREME NORTH CENTRAL TUOLUMNE COUNTY IN CALIFORNIA, EXTREME NORTHEASTERN CALAVERAS COUNTY "
             "IN CALIFORNIA, SOUTHWESTERN ALPINE COUNTY IN CALIFORNIA",
        geocodes=(("SAME", "006109"), ("SAME", "006009"), ("SAME", "006003"))),)


def test_earthquake_update_references_the_first_message() -> None:
    a = parse_alert(QUAKE)
    assert a.identifier == "TRI13970876.2"
    assert a.sender == "trinet@caltech.edu"
    assert a.sent == datetime(2003, 6, 11, 20, 56, tzinfo=PDT)
    assert a.sent.utcoffset() == timedelta(hours=-7)
    assert (a.status, a.msg_type) == ("Actual", "Update")
    assert a.references == (("trinet@caltech.edu", "TRI13970876.1", "2003-06-11T20:30:00-07:00"),)
    assert (a.event, a.urgency, a.severity) == ("Earthquake", "Past", "Minor")
    assert a.areas[0].desc.startswith("1 mi. WSW of Brawley, CA;") and a.areas[0].geocodes == ()


def test_homeland_security_area_with_only_a_description() -> None:
    a = parse_alert(fixture("example1-homeland.xml"))
    assert a.identifier == "43b080713727" and a.sender == "hsas@dhs.gov"
    assert a.sent == datetime(2003, 4, 2, 14, 39, 1, tzinfo=timezone(timedelta(hours=-5)))
    assert a.sent_text == "2003-04-02T14:39:01-05:00"
    assert (a.event, a.certainty) == ("Homeland Security Advisory System Update", "Likely")
    assert a.areas == (CapArea(desc="U.S. nationwide and interests worldwide"),)


@pytest.mark.parametrize("prefer", ["zh", "en", "EN", "fr", ""])
def test_amber_alert_falls_back_to_the_first_info_block(prefer: str) -> None:
    a = parse_alert(fixture("example4-amber.xml"), prefer_language=prefer)
    assert a.language == "en-US"
    assert a.event == "Child Abduction"
    assert a.headline == "Amber Alert in Los Angeles County"
    assert a.areas == (CapArea(desc="Los Angeles County", geocodes=(("SAME", "006037"),)),)


@pytest.mark.parametrize("prefer", ["es", "ES", "es-us"])
def test_amber_alert_chooses_spanish_when_preferred(prefer: str) -> None:
    a = parse_alert(fixture("example4-amber.xml"), prefer_language=prefer)
    assert a.identifier == "KAR0-0306112239-SW"
    assert a.sent == datetime(2003, 6, 11, 22, 39, tzinfo=PDT)
    assert a.language == "es-US"
    assert a.event == "Abducción de Niño"
    assert a.sender_name == "Departamento de Policía de Los Ángeles - LAPD"
    assert a.headline == "Alerta Amber en el condado de Los Ángeles"
    assert "VÍCTIMAS" in a.description and "LOCALIZACIÓN" in a.description
    assert a.areas == (CapArea(desc="condado de Los Ángeles", geocodes=(("SAME", "006037"),)),)


def test_language_preference_matches_whole_subtags() -> None:
    text = STORM.decode("utf-8")
    start, end = text.index("  <info>"), text.index("</info>\n") + len("</info>\n")
    block = text[start:end]
    zha = block.replace("<info>\n", "<info>\n    <language>zha</language>\n")
    zh_cn = block.replace("<info>\n", "<info>\n    <language>zh-CN</language>\n")
    two = (text[:start] + zha + zh_cn + text[end:]).encode("utf-8")
    assert parse_alert(two, prefer_language="zh").language == "zh-CN"  # not Zhuang ("zha")
    assert parse_alert(two, prefer_language="zha").language == "zha"
    assert parse_alert(two, prefer_language="ZH-cn").language == "zh-CN"


def test_cap_error_is_a_user_error() -> None:
    assert issubclass(CapError, LedctlError)


# --- rejections -------------------------------------------------------------------------------

BILLION_LAUGHS = (b'<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n'
                  b' <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">\n]>\n'
                  b'<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">'
                  b"<identifier>&lol2;</identifier></alert>")

BAD = {
    "not xml": (b"this is not XML", "not well-formed XML at line 1, column 1"),
    "empty": (b"", "not well-formed XML"),
    "truncated": (STORM[:300], "not well-formed XML"),
    "mismatched tag": (storm_with("</status>", "</statu>"), "not well-formed XML at line 6"),
    "cap 1.1": (storm_with(NS, "urn:oasis:names:tc:emergency:cap:1.1"),
                "CAP 1.1 message (namespace urn:oasis:names:tc:emergency:cap:1.1); "
                "ledctl reads CAP 1.2 only"),
    "no namespace": (storm_with(f' xmlns="{NS}"', ""), "root element is <alert> without a namespace"),
    "other root": (b"<rss><channel/></rss>", "root element is <rss> without a namespace; expected <alert>"),
    "missing sent": (storm_with("  <sent>2003-06-17T14:57:00-07:00</sent>\n", ""),
                     "<alert> is missing <sent>; CAP 1.2 requires it"),
    "missing identifier": (storm_with("<identifier>KSTO1055887203</identifier>", ""), "missing <identifier>"),
    "missing scope": (storm_with("<scope>Public</scope>", ""), "missing <scope>"),
    "sent outside namespace": (storm_with("<sent>2003-06-17T14:57:00-07:00</sent>",
                                          '<sent xmlns="">2003-06-17T14:57:00-07:00</sent>'),
                               "<alert> has <sent> in no namespace, not in the CAP 1.2 namespace"),
    "two sent": (storm_with("<sent>", "<sent>2003-06-17T14:57:00-07:00</sent><sent>"),
                 "<sent> appears 2 times"),
    "status Live": (storm_with("<status>Actual<", "<status>Live<"),
                    "<status> = 'Live': expected one of Actual, Exercise, System, Test, Draft"),
    "status lower case": (storm_with("<status>Actual<", "<status>actual<"), "<status> = 'actual'"),
    "msgType": (storm_with("<msgType>Alert<", "<msgType>Warning<"),
                "<msgType> = 'Warning': expected one of Alert, Update, Cancel, Ack, Error"),
    "scope": (storm_with("<scope>Public<", "<scope>Everyone<"), "<scope> = 'Everyone'"),
    "private without addresses": (storm_with("<scope>Public<", "<scope>Private<"), "<addresses>"),
    "Z time": (storm_with("2003-06-17T14:57:00-07:00</sent>", "2003-06-17T21:57:00Z</sent>"),
               "<sent> = '2003-06-17T21:57:00Z': 'Z' is not allowed in CAP date-times; write UTC as -00:00"),
    "fractional seconds": (storm_with("2003-06-17T14:57:00-07:00</sent>",
                                      "2003-06-17T14:57:00.5-07:00</sent>"),
                           "fractional seconds are not allowed"),
    "no offset": (storm_with("2003-06-17T14:57:00-07:00</sent>", "2003-06-17T14:57:00</sent>"),
                  "expected a CAP date-time YYYY-MM-DDThh:mm:ss±hh:mm"),
    "no seconds": (storm_with("2003-06-17T14:57:00-07:00</sent>", "2003-06-17T14:57-07:00</sent>"),
                   "expected a CAP date-time"),
    "month 13": (storm_with("2003-06-17T14:57:00-07:00</sent>", "2003-13-17T14:57:00-07:00</sent>"),
                 "not a real date-time"),
    "bad expires": (storm_with("<expires>2003-06-17T16:00:00-07:00", "<expires>2003-06-17T23:00:00Z"),
                    "<info>/<expires> = '2003-06-17T23:00:00Z': 'Z' is not allowed"),
    "identifier with a space": (storm_with("KSTO1055887203", "KSTO 1055887203"),
                                "<identifier> = 'KSTO 1055887203': "
                                "must not contain whitespace, ',', '<' or '&'"),
    "identifier with a comma": (storm_with("KSTO1055887203", "KSTO,1055887203"), "must not contain"),
    "identifier with &": (storm_with("KSTO1055887203", "KSTO&amp;1055887203"), "must not contain"),
    "sender with <": (storm_with("KSTO@NWS.NOAA.GOV", "KSTO&lt;NWS"), "<sender> = 'KSTO<NWS'"),
    "empty identifier": (storm_with("KSTO1055887203", ""), "<identifier> is empty"),
    "update without references": (storm_with("<msgType>Alert<", "<msgType>Update<"),
                                  "<msgType> is Update but <references> is missing or empty"),
    "cancel without references": (storm_with("<msgType>Alert<", "<msgType>Cancel<"),
                                  "<msgType> is Cancel but <references> is missing"),
    "references with two parts": (quake_with("trinet@caltech.edu,TRI13970876.1,", "trinet@caltech.edu,"),
                                  "<references> entry 'trinet@caltech.edu,2003-06-11T20:30:00-07:00': "
                                  "expected 'sender,identifier,sent'"),
    "references with spaces after commas": (quake_with(",TRI13970876.1,", ", TRI13970876.1, "),
                                            "expected 'sender,identifier,sent'"),
    "references with a Z time": (quake_with("20:30:00-07:00</references>", "03:30:00Z</references>"),
                                 "sent = '2003-06-11T03:30:00Z': 'Z' is not allowed"),
    "references empty": (quake_with(
        "trinet@caltech.edu,TRI13970876.1,2003-06-11T20:30:00-07:00", " "), "Update but <references>"),
    "missing urgency": (storm_with("<urgency>Immediate</urgency>", ""), "<info> is missing <urgency>"),
    "missing category": (storm_with("<category>Met</category>", ""), "<info> is missing <category>"),
    "missing event": (storm_with("<event>SEVERE THUNDERSTORM</event>", ""), "missing <event>"),
    "category": (storm_with("<category>Met<", "<category>Weather<"),
                 "<info>/<category> = 'Weather': expected one of Geo, Met, Safety"),
    "urgency": (storm_with("<urgency>Immediate<", "<urgency>Now<"), "<info>/<urgency> = 'Now'"),
    "severity": (storm_with("<severity>Severe<", "<severity>High<"), "<info>/<severity> = 'High'"),
    "certainty 1.1": (storm_with("<certainty>Observed<", "<certainty>Very Likely<"),
                      "<info>/<certainty> = 'Very Likely': expected one of Observed, Likely"),
    "geocode without value": (storm_with("<value>006009</value>", ""),
                              "<info>/<area>[1]/<geocode>[2] is missing <value>"),
    "area without desc": (storm_with("<areaDesc>", "<areaDescription>").replace(
        b"</areaDesc>", b"</areaDescription>"), "<info>/<area>[1] is missing <areaDesc>"),
    "markup in sent": (storm_with("<sent>2003-06-17T14:57:00-07:00</sent>",
                                  "<sent><b>2003-06-17T14:57:00-07:00</b></sent>"),
                       "contains child elements"),
    "doctype": (storm_with("<alert ", '<!DOCTYPE alert SYSTEM "cap.dtd">\n<alert '),
                "contains a <!DOCTYPE> or <!ENTITY> declaration"),
    "billion laughs": (BILLION_LAUGHS, "contains a <!DOCTYPE> or <!ENTITY> declaration"),
    "entity in a comment": (storm_with("<alert ", '<!-- <!ENTITY x "y"> -->\n<alert '), "<!ENTITY>"),
    "doctype in utf-16": (STORM.decode().replace("UTF-8", "UTF-16").replace(
        "<alert ", '<!DOCTYPE alert [<!ENTITY x "y">]>\n<alert ').encode("utf-16"), "<!DOCTYPE>"),
    "unknown encoding": (storm_with('encoding="UTF-8"', 'encoding="x-klingon"'),
                         "cannot decode the document"),
    "multi-byte encoding": (storm_with('encoding="UTF-8"', 'encoding="Shift_JIS"'), "send it as UTF-8"),
}


@pytest.mark.parametrize(("data", "fragment"), BAD.values(), ids=BAD.keys())
def test_rejections_name_the_problem(data: bytes, fragment: str) -> None:
    with pytest.raises(CapError) as caught:
        parse_alert(data, where="feeds/storm.xml")
    message = str(caught.value)
    assert message.startswith("feeds/storm.xml: "), message
    assert fragment in message, message


def test_status_message_is_exact() -> None:
    with pytest.raises(CapError) as caught:
        parse_alert(storm_with("<status>Actual<", "<status>Live<"))
    assert str(caught.value) == (
        "CAP alert: <status> = 'Live': expected one of Actual, Exercise, System, Test, Draft")


def test_a_broken_second_info_block_is_rejected_and_named() -> None:
    amber = fixture("example4-amber.xml").decode("utf-8")
    last = amber.rindex("<urgency>Immediate<")
    broken = (amber[:last] + "<urgency>Soon<" + amber[last + len("<urgency>Immediate<"):]).encode("utf-8")
    with pytest.raises(CapError, match=re.escape("<info>[2]/<urgency> = 'Soon'")):
        parse_alert(broken, prefer_language="en")


def test_lenient_where_it_cannot_matter() -> None:
    # Surrounding whitespace around enumerations and date-times, +00:00, unknown elements.
    a = parse_alert(storm_with("<status>Actual</status>", "<status>\n    Actual\n  </status>")
                    .replace(b"<sent>2003-06-17T14:57:00-07:00", b"<sent> 2003-06-17T21:57:00+00:00 ")
                    .replace(b"<scope>Public</scope>", b"<scope>Public</scope><x:ext xmlns:x='urn:x'/>"))
    assert a.status == "Actual"
    assert a.sent_text == "2003-06-17T21:57:00+00:00"
    assert a.sent == datetime(2003, 6, 17, 14, 57, tzinfo=PDT)


def test_alert_without_info_has_empty_event() -> None:
    text = STORM.decode()
    bare = (text[:text.index("  <info>")] + "</alert>\n").encode()
    a = parse_alert(bare)
    assert a.event == "" and a.areas == () and a.language == "en-US" and a.urgency == "Unknown"


def test_several_references() -> None:
    refs = ("a@x.cn,ID1,2003-06-11T20:30:00-07:00\n      a@x.cn,ID2,2003-06-11T20:45:00-07:00")
    a = parse_alert(quake_with("trinet@caltech.edu,TRI13970876.1,2003-06-11T20:30:00-07:00", refs))
    assert a.references == (("a@x.cn", "ID1", "2003-06-11T20:30:00-07:00"),
                            ("a@x.cn", "ID2", "2003-06-11T20:45:00-07:00"))


# --- Atom feeds -------------------------------------------------------------------------------

STORM_ELEMENT = STORM.decode().split("?>\n", 1)[1]


def atom(*entries: str) -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">\n'
            f"<title>Alerts</title><id>urn:feed</id>{''.join(entries)}</feed>\n").encode()


def test_atom_feed_with_an_embedded_and_a_linked_alert() -> None:
    data = atom(
        f'<entry><id>urn:e:1</id><title>storm</title><content type="application/cap+xml">{STORM_ELEMENT}'
        "</content></entry>",
        '<entry><id>urn:e:2</id><title>quake</title>'
        '<link rel="alternate" type="text/html" href="https://x.example/quake.html"/>'
        '<link rel="alternate" type="application/cap+xml" href="https://x.example/quake.xml"/></entry>',
        '<entry><id>urn:e:3</id><link href="https://x.example/3"/><link rel="self" href="https://x/s"/></entry>',
        '<entry><id>urn:e:4</id><content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"/></content>'
        '<link rel="related" href="https://x/r"/><link rel="alternate" href="https://x.example/4"/></entry>',
    )
    alerts, urls = parse_feed(data, where="https://x.example/feed")
    assert [a.identifier for a in alerts] == ["KSTO1055887203"]
    assert alerts[0] == parse_alert(STORM)
    assert urls == ["https://x.example/quake.xml", "https://x.example/3", "https://x.example/4"]


def test_feed_accepts_a_single_alert() -> None:
    assert parse_feed(QUAKE) == ([parse_alert(QUAKE)], [])


def test_feed_entry_errors_name_the_entry_id() -> None:
    live = STORM_ELEMENT.replace("<status>Actual<", "<status>Live<")
    data = atom(f"<entry><id>urn:e:1</id><content>{STORM_ELEMENT}</content></entry>",
                f"<entry><id>urn:e:2</id><content>{live}</content></entry>")
    with pytest.raises(CapError) as caught:
        parse_feed(data, where="feed.xml")
    assert str(caught.value).startswith("feed.xml: entry 'urn:e:2': <status> = 'Live'")


@pytest.mark.parametrize(("data", "fragment"), [
    (atom("<entry><id>urn:e:9</id><title>nothing</title></entry>"),
     "entry 'urn:e:9': has neither a CAP <alert> inside <content> nor a <link href>"),
    (atom("<entry><id>urn:e:1</id><content>"
          + STORM_ELEMENT.replace(NS, "urn:oasis:names:tc:emergency:cap:1.1") + "</content></entry>"),
     "entry 'urn:e:1': this is a CAP 1.1 message"),
    (atom("<entry><title>no id</title></entry>"), "entry #1 (no <id>)"),
    (b'<rss version="2.0"><channel/></rss>',
     "root element is <rss>; expected a CAP 1.2 <alert> or an Atom <feed>"),
    (b"<feed>", "not well-formed XML"),
    (b'<!DOCTYPE feed><feed xmlns="http://www.w3.org/2005/Atom"/>', "<!DOCTYPE>"),
])
def test_feed_rejections(data: bytes, fragment: str) -> None:
    with pytest.raises(CapError) as caught:
        parse_feed(data, where="feed.xml")
    assert str(caught.value).startswith("feed.xml: ") and fragment in str(caught.value), str(caught.value)


# --- export -----------------------------------------------------------------------------------

FULL = CapOut(
    identifier="ZHENHAI-2024-0001",
    sender="notices@zhenhai.example.cn",
    sent=datetime(2024, 3, 5, 9, 30, 15, tzinfo=CST),
    status="Exercise",
    msg_type="Update",
    scope="Restricted",
    references=(("notices@zhenhai.example.cn", "ZHENHAI-2024-0000", "2024-03-05T08:00:00+08:00"),),
    language="zh-CN",
    category="Env",
    event="重污染天气",
    urgency="Expected",
    severity="Moderate",
    certainty="Likely",
    effective=datetime(2024, 3, 5, 10, 0, tzinfo=CST),
    expires=datetime(2024, 3, 6, 2, 0, tzinfo=UTC),
    sender_name="镇海区生态环境分局",
    headline="重污染天气橙色预警",
    description="PM2.5 <75 & 臭氧 > 标准；请减少户外活动。\n第二行",
    area_descs=("镇海区", "蛟川街道 & 招宝山街道"),
)

ALERT_ORDER = ["identifier", "sender", "sent", "status", "msgType", "source", "scope", "restriction",
               "addresses", "code", "note", "references", "incidents", "info"]
INFO_ORDER = ["language", "category", "event", "responseType", "urgency", "severity", "certainty", "audience",
              "eventCode", "effective", "onset", "expires", "senderName", "headline", "description",
              "instruction", "web", "contact", "parameter", "resource", "area"]


def local_names(parent: ET.Element) -> list[str]:
    names = []
    for child in parent:
        assert child.tag.startswith(f"{{{NS}}}"), child.tag
        names.append(child.tag.split("}", 1)[1])
    return names


def assert_xsd_order(names: list[str], order: list[str]) -> None:
    positions = [order.index(n) for n in names]  # ValueError for an element the XSD does not allow
    assert positions == sorted(positions), names


def test_export_round_trip_keeps_every_field() -> None:
    a = parse_alert(export_alert(FULL))
    assert a.identifier == FULL.identifier and a.sender == FULL.sender
    assert a.sent == FULL.sent and a.sent.utcoffset() == timedelta(hours=8)
    assert a.sent_text == "2024-03-05T09:30:15+08:00"
    assert (a.status, a.msg_type, a.scope) == (FULL.status, FULL.msg_type, FULL.scope)
    assert a.references == FULL.references
    assert (a.language, a.event, a.urgency, a.severity, a.certainty) == (
        FULL.language, FULL.event, FULL.urgency, FULL.severity, FULL.certainty)
    assert a.effective == FULL.effective and a.expires == FULL.expires and a.onset is None
    assert (a.sender_name, a.headline, a.description) == (FULL.sender_name, FULL.headline, FULL.description)
    assert tuple(area.desc for area in a.areas) == FULL.area_descs
    assert all(area.geocodes == () for area in a.areas)


def test_export_layout_and_xsd_order() -> None:
    data = export_alert(FULL)
    lines = data.decode("utf-8").split("\n")
    assert lines[0] == '<?xml version="1.0" encoding="UTF-8"?>'
    assert lines[1] == f'<alert xmlns="{NS}">'
    assert lines[2] == "  <identifier>ZHENHAI-2024-0001</identifier>"
    assert "    <language>zh-CN</language>" in lines and "      <areaDesc>镇海区</areaDesc>" in lines
    assert data.endswith(b"</alert>\n")
    root = ET.fromstring(data)
    assert root.tag == f"{{{NS}}}alert"
    assert local_names(root) == ["identifier", "sender", "sent", "status", "msgType", "scope", "references",
                                 "info"]
    assert_xsd_order(local_names(root), ALERT_ORDER)
    info = root.find(f"{{{NS}}}info")
    assert info is not None
    assert local_names(info) == ["language", "category", "event", "urgency", "severity", "certainty",
                                 "effective", "expires", "senderName", "headline", "description",
                                 "area", "area"]
    assert_xsd_order(local_names(info), INFO_ORDER)
    for area in info.findall(f"{{{NS}}}area"):
        assert local_names(area) == ["areaDesc"]


def test_export_escapes_chinese_text_and_markup() -> None:
    data = export_alert(FULL)
    assert ("<description>PM2.5 &lt;75 &amp; 臭氧 &gt; 标准；请减少户外活动。\n第二行</description>"
            .encode() in data)
    assert "<areaDesc>蛟川街道 &amp; 招宝山街道</areaDesc>".encode() in data
    assert parse_alert(data).description == FULL.description


def test_export_writes_utc_as_minus_zero() -> None:
    out = CapOut(identifier="A1", sender="s@x", sent=datetime(2024, 3, 5, 1, 2, 3, 999_999, tzinfo=UTC),
                 event="测试", expires=datetime(2024, 3, 5, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai")))
    data = export_alert(out)
    assert b"<sent>2024-03-05T01:02:03-00:00</sent>" in data
    assert b"<expires>2024-03-05T09:00:00+08:00</expires>" in data
    assert b"+00:00" not in data
    assert parse_alert(data).sent == datetime(2024, 3, 5, 1, 2, 3, tzinfo=UTC)


def test_format_time() -> None:
    assert format_time(datetime(2003, 6, 17, 14, 57, tzinfo=PDT)) == "2003-06-17T14:57:00-07:00"
    assert format_time(datetime(2024, 1, 1, tzinfo=UTC)) == "2024-01-01T00:00:00-00:00"
    assert format_time(datetime(2024, 1, 1, 0, 0, 59, 900_000, tzinfo=CST)) == "2024-01-01T00:00:59+08:00"
    assert format_time(datetime(2024, 1, 1, tzinfo=timezone(timedelta(hours=5, minutes=45)))) \
        == "2024-01-01T00:00:00+05:45"
    assert format_time(datetime(2024, 1, 1, tzinfo=timezone(timedelta(hours=-3, minutes=-30)))) \
        == "2024-01-01T00:00:00-03:30"
    assert format_time(datetime(999, 1, 2, 3, 4, 5, tzinfo=UTC)) == "0999-01-02T03:04:05-00:00"
    # Shanghai local mean time (+08:05:43) cannot be written in CAP: the instant goes out as UTC.
    lmt = datetime(1900, 1, 1, 12, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert format_time(lmt) == "1900-01-01T03:54:17-00:00"
    with pytest.raises(CapError, match="has no timezone"):
        format_time(datetime(2024, 1, 1))


def test_cancel_with_references() -> None:
    original = parse_alert(export_alert(FULL))
    cancel = CapOut(identifier="ZHENHAI-2024-0002", sender=FULL.sender,
                    sent=datetime(2024, 3, 5, 12, 0, tzinfo=CST), status="Exercise", msg_type="Cancel",
                    scope="Restricted", references=(original.key, FULL.references[0]), event="重污染天气",
                    urgency="Past", severity="Minor", certainty="Observed", headline="预警解除")
    data = export_alert(cancel)
    assert (b"<references>notices@zhenhai.example.cn,ZHENHAI-2024-0001,2024-03-05T09:30:15+08:00 "
            b"notices@zhenhai.example.cn,ZHENHAI-2024-0000,2024-03-05T08:00:00+08:00</references>") in data
    a = parse_alert(data)
    assert a.msg_type == "Cancel"
    assert a.references == (original.key, FULL.references[0])
    assert_xsd_order(local_names(ET.fromstring(data)), ALERT_ORDER)


def test_export_without_event_writes_no_info() -> None:
    cancel = CapOut(identifier="C2", sender="s@x", sent=datetime(2024, 1, 1, tzinfo=CST), msg_type="Cancel",
                    references=(("s@x", "C1", "2024-01-01T00:00:00+08:00"),))
    data = export_alert(cancel)
    assert b"<info>" not in data
    a = parse_alert(data)
    assert a.event == "" and a.references == (("s@x", "C1", "2024-01-01T00:00:00+08:00"),)


EXPORT_BAD = {
    "identifier space": ({"identifier": "ZH 1"}, "identifier = 'ZH 1': must not contain whitespace"),
    "identifier comma": ({"identifier": "ZH,1"}, "must not contain"),
    "sender ampersand": ({"sender": "a&b"}, "sender = 'a&b': must not contain"),
    "empty sender": ({"sender": ""}, "sender is empty"),
    "status": ({"status": "Live"}, "status = 'Live': expected one of Actual, Exercise, System, Test, Draft"),
    "msg_type": ({"msg_type": "update"}, "msg_type = 'update'"),
    "scope": ({"scope": "Everyone"}, "scope = 'Everyone'"),
    "private": ({"scope": "Private"}, "Private needs <addresses>"),
    "category": ({"category": "Weather"}, "category = 'Weather': expected one of Geo, Met"),
    "urgency": ({"urgency": "Now"}, "urgency = 'Now'"),
    "severity": ({"severity": "High"}, "severity = 'High'"),
    "certainty": ({"certainty": "Very Likely"}, "certainty = 'Very Likely'"),
    "update without references": ({"references": ()}, "msg_type Update needs references"),
    "bad reference time": ({"references": (("a@x", "B", "2024-03-05T08:00:00Z"),)}, "references sent = "),
    "bad reference id": ({"references": (("a@x", "B 1", "2024-03-05T08:00:00+08:00"),)},
                         "references identifier = 'B 1'"),
    "naive sent": ({"sent": datetime(2024, 1, 1)}, "sent: CAP date-time 2024-01-01T00:00:00 has no timezone"),
    "naive expires": ({"expires": datetime(2024, 1, 1)}, "expires: CAP date-time"),
    "control character": ({"description": "bad\x07bell"}, "description contains '\\x07'"),
    "no event but text": ({"event": " "}, "event is empty but headline/description/areas are set"),
    "empty area": ({"area_descs": ("镇海区", " ")}, "area_descs[2] is empty"),
    "language": ({"language": "zh_CN"}, "language = 'zh_CN'"),
}


@pytest.mark.parametrize(("changes", "fragment"), EXPORT_BAD.values(), ids=EXPORT_BAD.keys())
def test_export_rejections(changes: dict[str, object], fragment: str) -> None:
    from dataclasses import replace

    with pytest.raises(CapError) as caught:
        export_alert(replace(FULL, **changes))
    assert fragment in str(caught.value), str(caught.value)


# --- properties -------------------------------------------------------------------------------


def parse_or_cap_error(data: bytes) -> None:
    try:
        result = parse_alert(data, where="fuzz")
    except CapError as e:
        assert str(e).startswith("fuzz: ")
    else:
        assert isinstance(result, CapAlert)
        assert result.sent.tzinfo is not None


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_crash(data: bytes) -> None:
    parse_or_cap_error(data)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, len(STORM)), st.integers(0, 8), st.binary(max_size=8)),
                min_size=1, max_size=4))
def test_mutated_thunderstorm_bytes_never_crash(edits: list[tuple[int, int, bytes]]) -> None:
    data = STORM
    for at, cut, insert in edits:
        at = min(at, len(data))
        data = data[:at] + insert + data[at + cut:]
    parse_or_cap_error(data)


TEXT_SPANS = [m.span(1) for m in re.finditer(rb">([^<]*)<", STORM)]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(span=st.sampled_from(TEXT_SPANS),
       value=st.one_of(st.text(max_size=30),
                       st.sampled_from(["Actual", "Update", "Cancel", "2003-06-17T14:57:00Z", " ",
                                        "2003-06-17T14:57:00-24:00", "9999-12-31T23:59:59-23:59",
                                        "0000-01-01T00:00:00+00:00", "a,b,c", "&amp;", "&lt;x&gt;"])))
def test_thunderstorm_with_one_value_changed_never_crashes(span: tuple[int, int], value: str) -> None:
    start, end = span
    parse_or_cap_error(STORM[:start] + value.encode("utf-8", "surrogatepass") + STORM[end:])


xml_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\ufffe\uffff")
                   .filter(lambda c: c >= " " or c in "\t\n\r"), max_size=40)
idents = st.from_regex(r"[A-Za-z0-9.@_:-]{1,24}", fullmatch=True)
times = st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1),
                     timezones=st.sampled_from([UTC, CST, PDT, timezone(timedelta(hours=5, minutes=45))])
                     ).map(lambda t: t.replace(microsecond=0))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(identifier=idents, sender=idents, sent=times, msg_type=st.sampled_from(["Alert", "Update", "Cancel"]),
       ref=st.tuples(idents, idents, times.map(format_time)),
       event=xml_text.filter(str.strip), headline=xml_text, description=xml_text, sender_name=xml_text,
       expires=st.none() | times, areas=st.lists(xml_text.filter(str.strip), max_size=3))
def test_export_then_parse_round_trips(identifier: str, sender: str, sent: datetime, msg_type: str,
                                       ref: tuple[str, str, str], event: str, headline: str,
                                       description: str, sender_name: str, expires: datetime | None,
                                       areas: list[str]) -> None:
    out = CapOut(identifier=identifier, sender=sender, sent=sent, msg_type=msg_type,
                 references=(ref,) if msg_type != "Alert" else (), event=event, headline=headline,
                 description=description, sender_name=sender_name, expires=expires, area_descs=tuple(areas))
    a = parse_alert(export_alert(out))
    assert (a.identifier, a.sender, a.sent, a.sent_text) == (identifier, sender, sent, format_time(sent))
    assert (a.msg_type, a.references) == (msg_type, out.references)
    assert (a.event, a.headline, a.description, a.sender_name) == (event, headline, description, sender_name)
    assert a.expires == expires
    assert tuple(area.desc for area in a.areas) == tuple(areas)
