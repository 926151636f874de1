"""The staff roster: CSV import (hostile input included), the local file, merging with the hub's."""

from __future__ import annotations

import json

import pytest

from kiosk.roster import (LOCAL_FILE, Roster, RosterError, StaffEntry, entries_from_hub, load_local, main,
                          save_local,
                          parse_csv)

GOOD = "staff_id,name,kana,key,admin\n10234,山田 花子,ヤマダ ハナコ,jpki:abc,0\n90001,管理 者,,jpki:def,1\n10300,新人,,,\n"


def test_roster_csv_parses_good_file():
    entries = parse_csv(GOOD.encode())
    assert entries[0] == StaffEntry("10234", "山田 花子", "ヤマダ ハナコ", "jpki:abc", False)
    assert entries[1].admin and entries[2].key == ""


def test_roster_csv_accepts_bom_crlf_and_column_order():
    raw = "\ufeffname,staff_id\r\n山田 花子,10234\r\n".encode()
    assert parse_csv(raw) == [StaffEntry("10234", "山田 花子")]


@pytest.mark.parametrize("raw, message", [
    (b"", "empty file"),
    ("staff_id,name\n1,山田\n".encode("shift_jis"), "not UTF-8"),
    (b"staff_id,name\x00\n", "NUL"),
    (b"staff_id,nmae\n1,x\n", "unknown column 'nmae'"),
    (b"name,kana\nx,y\n", "missing column 'staff_id'"),
    (b"staff_id,name,name\n1,x,y\n", "appears twice"),
    (b"staff_id,name\n1,x,extra\n", "line 2: 3 fields, expected 2"),
    (b"staff_id,name\n1 2,x\n", "line 2: staff_id"),
    (b"staff_id,name\n1,\n", "line 2: name is empty"),
    ("staff_id,name\n1,{}\n".format("長" * 65).encode(), "at most 64"),
    (b"staff_id,name\n1,a\x1b[2Jb\n", "control characters"),
    (b"staff_id,name,admin\n1,x,maybe\n", "admin 'maybe'"),
    (b"staff_id,name,key\n1,x,has space\n", "key 'has space'"),
    (b"staff_id,name\n1,x\n1,y\n", "line 3: staff_id '1' already on line 2"),
    (b"staff_id,name,key\n1,x,k\n2,y,k\n", "line 3: key already on line 2"),
    (b'staff_id,name\n1,"unterminated\n', "line"),
])
def test_roster_csv_hostile_input_rejected(raw, message):
    with pytest.raises(RosterError, match=message):
        parse_csv(raw)


def test_roster_csv_reports_every_bad_line():
    with pytest.raises(RosterError) as err:
        parse_csv(b"staff_id,name\n1,\n2,\n3,ok\n4,\n")
    assert [line.split(":")[0] for line in str(err.value).splitlines()] == ["line 2", "line 3", "line 5"]


def test_roster_csv_too_big_rejected():
    with pytest.raises(RosterError, match="bytes"):
        parse_csv(b"staff_id,name\n" + b"1,x\n" * 3_000_000)


def test_roster_import_command_writes_local_file(tmp_path, capsys):
    csv_file = tmp_path / "staff.csv"
    csv_file.write_text(GOOD, encoding="utf-8")
    assert main(["import", str(csv_file), "--data-dir", str(tmp_path)], None) == 0
    assert "imported 3 staff (1 admin, 1 without a card key)" in capsys.readouterr().out
    assert load_local(tmp_path) == parse_csv(GOOD.encode())


def test_roster_import_bad_file_changes_nothing(tmp_path, capsys):
    (tmp_path / "good.csv").write_text(GOOD, encoding="utf-8")
    main(["import", str(tmp_path / "good.csv"), "--data-dir", str(tmp_path)], None)
    before = (tmp_path / LOCAL_FILE).read_bytes()
    (tmp_path / "bad.csv").write_bytes(b"staff_id,name\n1,\n")
    assert main(["import", str(tmp_path / "bad.csv"), "--data-dir", str(tmp_path)], None) == 1
    err = capsys.readouterr().err
    assert "line 2: name is empty" in err and "Nothing was changed" in err
    assert (tmp_path / LOCAL_FILE).read_bytes() == before


def test_roster_import_missing_file_reported(tmp_path, capsys):
    assert main(["import", str(tmp_path / "nope.csv"), "--data-dir", str(tmp_path)], None) == 1
    assert "cannot read" in capsys.readouterr().err


def test_roster_local_file_corrupt_means_empty(tmp_path):
    (tmp_path / LOCAL_FILE).write_text("{not json")
    assert load_local(tmp_path) == []


def test_roster_hub_entries_win_and_malformed_skipped():
    hub = entries_from_hub({
        "jpki:abc": {"staff_id": "10234", "name": "山田 花子(新)", "flags": ["admin"]},
        "jpki:bad": "nonsense",
        "jpki:noid": {"name": "x"},
    })
    roster = Roster.merged(parse_csv(GOOD.encode()), hub)
    assert roster.by_key("jpki:abc").name == "山田 花子(新)" and roster.by_key("jpki:abc").admin
    assert roster.by_staff_id("10300").name == "新人"
    assert roster.by_key("jpki:bad") is None and len(roster) == 3


def test_roster_hub_sync_state_form_accepted():
    hub = entries_from_hub({"site": "honcho", "staff": {"k1": {"staff_id": "1", "name": "A", "admin": False}}})
    assert hub == [StaffEntry("1", "A", "", "k1", False)]


def test_roster_hub_list_form_accepted():
    hub = entries_from_hub([{"key": "k1", "staff_id": "1", "display_name": "A", "admin": True}, 7])
    assert hub == [StaffEntry("1", "A", "", "k1", True)]


def test_roster_local_file_round_trip(tmp_path):
    entries = parse_csv(GOOD.encode())
    save_local(tmp_path, entries)
    assert json.loads((tmp_path / LOCAL_FILE).read_text())["version"] == 1
    assert load_local(tmp_path) == entries
