"""`cityhub keys init` and `cityhub roster import`: files, modes and hostile CSVs."""

import pytest

from cityhub import keys, roster
from cityhub.cli import main as cityhub_main
from kiosk.privacy import open_sealed, public_key_from_text, seal


def test_hub_keys_init_private_key_0600_and_never_replaced(tmp_path, capsys):
    assert cityhub_main(["keys", "init", "--dir", str(tmp_path)]) == 0
    public = capsys.readouterr().out.strip().splitlines()[-1]
    private_file = tmp_path / keys.PRIVATE_NAME
    assert private_file.stat().st_mode & 0o777 == 0o600
    sealed = seal({"name": "山田"}, public_key_from_text(public))
    assert open_sealed(sealed, keys.load_private_key(private_file)) == {"name": "山田"}
    before = private_file.read_bytes()
    assert cityhub_main(["keys", "init", "--dir", str(tmp_path)]) == 1
    assert "not replacing" in capsys.readouterr().out and private_file.read_bytes() == before


def test_hub_roster_import_shift_jis_with_site_option(tmp_path, capsys):
    csv_file = tmp_path / "staff.csv"
    csv_file.write_bytes("staff_key,staff_id,name,kana,admin\nk1,100,山田 花子,ヤマダ ハナコ,1\nk2,101,佐藤,,\n"
                         .encode("cp932"))
    db = f"sqlite:///{tmp_path}/hub.db"
    assert cityhub_main(["roster", "import", str(csv_file), "--db", db, "--site", "honcho"]) == 0
    assert "imported 2 staff for honcho" in capsys.readouterr().out


@pytest.mark.parametrize("text, problem", [
    ("staff_id,name\n1,x\n", "missing column(s) staff_key, site"),
    ("site,staff_key,staff_id,name\nh,k1,1,\n", "line 2: empty name"),
    ("site,staff_key,staff_id,name\nh,k1,1,a\nh,k1,2,b\n", "line 3: staff_key 'k1' appears twice"),
    ("site,staff_key,staff_id,name\n", "no staff"),
    ("", "missing column"),
])
def test_hub_roster_import_bad_csv_names_the_problem(text, problem):
    with pytest.raises(roster.RosterError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        roster.read_csv(text.encode())


def test_hub_roster_import_binary_file_refused(tmp_path, capsys):
    bad = tmp_path / "staff.xlsx"
    bad.write_bytes(b"PK\x03\x04\x80\x81\xfe\xff" * 10)
    assert cityhub_main(["roster", "import", str(bad), "--db", f"sqlite:///{tmp_path}/h.db", "--site", "s"]) == 2
    assert "staff.xlsx" in capsys.readouterr().out
