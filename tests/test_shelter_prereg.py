"""`cityhub prereg`: signed QR cards from a CSV and from the web form, and bad input."""

import base64
import io
import re
import stat
import threading
import urllib.error
import urllib.parse
import urllib.request

import pytest
import zxingcpp
from hypothesis import given, settings, strategies as st
from PIL import Image

from cityhub import prereg
from kiosk import qrcodes

CSV = """household,name,kana,birth_date,sex,needs
1,山田 太郎,ヤマダ タロウ,1950-03-04,1,elderly;medical_device
1,山田 花子,やまだ はなこ,1952-05-06,女,
2,Maria Santos,マリア サントス,1990-01-31,F,language
""".encode()


def qr_text(png: bytes) -> str:
    (found,) = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    return found.text


def test_prereg_cards_from_csv_verify_on_a_stand(tmp_path, capsys):
    assert prereg.main(["make", str(write(tmp_path, CSV)), "--key", str(tmp_path / "k"), "--out", str(tmp_path / "cards")], None) == 0
    public = re.search(r'prereg_public_key = "([^"]+)"', capsys.readouterr().out)[1]
    index = (tmp_path / "cards" / "index.csv").read_text().splitlines()
    assert len(index) == 3
    label, reg_id, card = index[1].split(",")
    household = qrcodes.decode(qr_text((tmp_path / "cards" / card).read_bytes()), qrcodes.verify_key_from_text(public))
    assert household.reg_id == reg_id
    assert [(m.name, m.kana, m.sex) for m in household.members] == [("山田 太郎", "ヤマダ タロウ", "1"),
                                                                      ("山田 花子", "ヤマダ ハナコ", "2")]
    assert household.members[0].needs == ("elderly", "medical_device")


def test_prereg_key_is_private_and_kept(tmp_path):
    first = prereg.signing_key(tmp_path / "k")
    assert stat.S_IMODE((tmp_path / "k").stat().st_mode) == 0o600
    assert bytes(prereg.signing_key(tmp_path / "k")) == bytes(first)


def test_prereg_broken_key_file_is_an_error(tmp_path):
    (tmp_path / "k").write_text("not a key")
    with pytest.raises(prereg.PreregError, match="not a pre-registration key"):
        prereg.signing_key(tmp_path / "k")


@pytest.mark.parametrize("text, message", [
    ("name,kana\n", "line 1: the header"),
    ("household,name,kana,birth_date,sex,needs\n", "no households"),
    ("household,name,kana,birth_date,sex,needs\n1,A,ア,1950-13-01,1,\n", "line 2: birth date"),
    ("household,name,kana,birth_date,sex,needs\n1,A,ア,2999-01-01,1,\n", "out of range"),
    ("household,name,kana,birth_date,sex,needs\n1,A,ア,1950-01-01,X,\n", "line 2: sex"),
    ("household,name,kana,birth_date,sex,needs\n1,A,ア,1950-01-01,1,flying\n", "unknown need"),
    ("household,name,kana,birth_date,sex,needs\n1,,ア,1950-01-01,1,\n", "name is empty"),
    ("household,name,kana,birth_date,sex,needs\n1,A,ア,1950-01-01\n", "columns"),
    ("household,name,kana,birth_date,sex,needs\n,A,ア,1950-01-01,1,\n", "household is empty"),
])
def test_prereg_bad_csv_says_where(text, message):
    with pytest.raises(prereg.PreregError, match=message):
        prereg.read_csv(text.encode())


def test_prereg_csv_not_utf8_is_refused():
    with pytest.raises(prereg.PreregError, match="not UTF-8"):
        prereg.read_csv("household,name\n1,山田\n".encode("shift_jis"))


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=300))
def test_prereg_hostile_csv_only_raises_prereg_error(text):
    try:
        prereg.read_csv(("household,name,kana,birth_date,sex,needs\n" + text).encode())
    except prereg.PreregError:
        pass


@pytest.fixture
def web(tmp_path):
    key = prereg.signing_key(tmp_path / "k")
    server = prereg.ThreadingHTTPServer(("127.0.0.1", 0), prereg.make_handler(key, prereg.japanese_font()))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/", key
    server.shutdown()
    server.server_close()


def post(url: str, fields: dict) -> tuple[int, str]:
    data = urllib.parse.urlencode(fields, doseq=True).encode()
    try:
        with urllib.request.urlopen(url, data, timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_prereg_web_form_issues_a_signed_card(web):
    url, key = web
    with urllib.request.urlopen(url, timeout=10) as answer:
        assert "事前登録" in answer.read().decode()
    status, page = post(url, {"name0": "佐藤 一", "kana0": "さとう はじめ", "birth0": "2001-02-03", "sex0": "1",
                              "need0": ["allergy_diet"], "name1": "佐藤 二", "birth1": "2003-04-05", "sex1": "2"})
    assert status == 200
    png = base64.b64decode(re.search(r"data:image/png;base64,([A-Za-z0-9+/=]+)", page)[1])
    household = qrcodes.decode(qr_text(png), key.verify_key)
    assert [(m.name, m.kana) for m in household.members] == [("佐藤 一", "サトウ ハジメ"), ("佐藤 二", "")]
    assert household.members[0].needs == ("allergy_diet",)


@pytest.mark.parametrize("fields, message", [
    ({"name0": " "}, "at least one person"),
    ({"name0": "A", "birth0": "yesterday"}, "birth date"),
    ({"name0": "A", "birth0": "1990-01-01", "need0": ["<script>"]}, "unknown need"),
])
def test_prereg_web_form_bad_input_is_explained(web, fields, message):
    status, page = post(web[0], fields)
    assert status == 400 and message in page
    assert "<script>" not in page


def test_prereg_web_form_refuses_oversized_posts(web):
    status, _page = post(web[0], {"name0": "x" * (prereg.MAX_FORM_BYTES + 10)})
    assert status == 400


def write(tmp_path, raw: bytes):
    path = tmp_path / "households.csv"
    path.write_bytes(raw)
    return path
