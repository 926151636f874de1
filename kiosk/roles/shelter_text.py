"""Names shown for the shelter's codes: refusals, levels, categories, items (Japanese, English).

Kept apart from the role so the role stays about decisions and the screens and tests can check
that every code the role can return has words.
"""

from __future__ import annotations

REFUSALS = {
    "card_unreadable": ("カードを読み取れませんでした。もう一度かざしてください", "The card could not be read. Please tap it again."),
    "not_mynumber": ("マイナンバーカードではありません", "This is not a My Number Card."),
    "card_removed": ("カードが離れました。最初からやり直してください", "The card was removed. Please start again."),
    "pin_blocked": ("暗証番号がロックされています。市役所の窓口で解除できます。ほかの方法で受付します",
                    "The PIN is locked; the city office can reset it. Let us register you another way."),
    "code_b_invalid": ("14桁の番号を確認してください（生年月日6桁＋有効期限の西暦4桁＋セキュリティコード4桁）",
                       "Check the 14 digits: birth date (6) + expiry year (4) + security code (4)."),
    "code_b_wrong": ("番号が一致しません。職員による入力で受付します", "The number does not match. Staff can register you instead."),
    "qr_garbled": ("QRコードを読み取れませんでした。もう一度かざしてください", "The QR code could not be read. Please scan it again."),
    "qr_forged": ("このQRコードは無効です（改ざんまたは偽造）", "This QR code is not valid (altered or forged)."),
    "qr_unsupported": ("このQRコードの形式には対応していません", "This QR code's format is not supported here."),
    "qr_no_key": ("この受付機では事前登録QRを確認できません。職員にお知らせください",
                  "This stand cannot check pre-registration codes. Please tell staff."),
    "already_in_household": ("この方はすでに追加されています", "This person is already in the household."),
    "intake_closed": ("現在、受付を停止しています。職員にお尋ねください", "Intake is stopped. Please ask staff."),
    "birth_date_invalid": ("生年月日が正しくありません", "That birth date is not valid."),
    "name_missing": ("お名前（カナ）を入力してください", "Please enter the name (katakana)."),
    "disk_full": ("保存できません。紙の受付票をお使いください", "Cannot save. Please use the paper form."),
    "record_failed": ("保存できませんでした。もう一度お試しください", "Could not save. Please try again."),
}

LEVELS = {  # the wire's level codes (kiosk.sync.protocol.LEVELS)
    "open": ("空いています", "Vacant"),
    "busy": ("やや混雑", "Somewhat crowded"),
    "crowded": ("混雑", "Crowded"),
    "full": ("満", "Full"),
    "closed": ("受付停止", "Not accepting"),
    "unknown": ("不明", "Unknown"),
}

CARE = {
    "elderly": ("高齢者", "Elderly"),
    "disability": ("障がい", "Disability"),
    "pregnancy": ("妊娠中", "Pregnant"),
    "infant": ("乳幼児", "Infant"),
    "medical_device": ("医療機器", "Medical device"),
    "allergy_diet": ("アレルギー・食事制限", "Allergy / diet"),
    "language": ("日本語以外", "Other language"),
}

STOCK = {
    "water_2l": ("水 2L", "Water 2 L"),
    "rations": ("食料", "Rations"),
    "blankets": ("毛布", "Blankets"),
    "diapers": ("おむつ", "Diapers"),
    "formula": ("粉ミルク", "Formula"),
    "sanitary": ("生理用品", "Sanitary items"),
    "medicine": ("医薬品", "Medicines"),
}

PETS = {"dog": ("犬", "Dog"), "cat": ("猫", "Cat"), "other": ("その他", "Other")}

STAYS = {
    "shelter": ("この避難所", "This shelter"),
    "home": ("自宅", "At home"),
    "car": ("車中泊", "In a car"),
    "tent": ("テント", "Tent"),
}

SEXES = {"1": ("男性", "Male"), "2": ("女性", "Female"), "9": ("その他", "Other"), "0": ("不明", "Unknown")}

MOVES = {"out": ("一時外出", "Going out"), "back": ("戻り", "Back"), "leave": ("退所", "Leaving")}

CHANNELS = {"card": ("カード", "card"), "code_b": ("照合番号B", "code B"), "qr": ("QR", "QR"),
            "staff": ("職員入力・未確認", "staff entry, unverified")}


def labelled(entry: str, built_in: dict[str, tuple[str, str]]) -> tuple[str, str, str]:
    """A config entry "id" or "id:日本語:English" -> (id, Japanese, English)."""
    if ":" in entry:
        key, japanese, english = entry.split(":", 2)
        return key, japanese, english
    japanese, english = built_in.get(entry, (entry, entry))
    return entry, japanese, english
