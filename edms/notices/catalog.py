"""The notices there are, who receives them, and their wording.

Each notice has two forms: ``email`` (a subject and a body) and ``text`` (one short
message, what SMS and Zalo gateways send). The defaults below are the System's; an
administrator may rewrite either form per agency (``notice_templates``). Templates use
``${placeholder}`` (Python's :class:`string.Template`): no expressions, no attribute access,
nothing but the values listed for the notice — a template naming anything else is refused
when it is saved.
"""

from __future__ import annotations

import string
import unicodedata
from dataclasses import dataclass

from ..errors import ClientError

FORMS = ("email", "text")
CITIZEN, STAFF = "citizen", "staff"

COMMON = {"co_quan": "tên cơ quan"}
DOSSIER = {
    **COMMON,
    "ma_ho_so": "mã hồ sơ",
    "thu_tuc": "tên thủ tục",
    "nguoi_nop": "họ tên người nộp",
    "ngay_tiep_nhan": "ngày tiếp nhận",
    "ngay_hen_tra": "ngày hẹn trả kết quả",
    "trang_thai": "tình trạng hồ sơ",
    "link_tra_cuu": "địa chỉ trang tra cứu",
}
DOCUMENT = {
    **COMMON,
    "nguoi_nhan": "họ tên người nhận",
    "so_ky_hieu": "số, ký hiệu",
    "trich_yeu": "trích yếu",
    "noi_gui": "cơ quan gửi / ban hành",
    "han_xu_ly": "hạn xử lý",
    "link_van_ban": "địa chỉ văn bản trên hệ thống",
}


@dataclass(frozen=True)
class NoticeSpec:
    name: str
    label: str  # Vietnamese, for the admin pages and the preferences
    audience: str  # citizen | staff
    fields: dict[str, str]  # placeholder -> what it holds (Vietnamese)
    subject: str
    body: str
    text: str


SIGNATURE = (
    "\n\n--\n${co_quan}\nThư này được gửi tự động từ hệ thống quản lý văn bản; "
    "vui lòng không trả lời thư này."
)

NOTICES: dict[str, NoticeSpec] = {
    n.name: n
    for n in (
        NoticeSpec(
            "dossier.received",
            "Đã tiếp nhận hồ sơ",
            CITIZEN,
            DOSSIER,
            "Đã tiếp nhận hồ sơ ${ma_ho_so}",
            "Kính gửi Ông/Bà ${nguoi_nop},\n\n${co_quan} đã tiếp nhận hồ sơ của Ông/Bà:\n"
            "- Mã hồ sơ: ${ma_ho_so}\n- Thủ tục: ${thu_tuc}\n- Ngày tiếp nhận: ${ngay_tiep_nhan}"
            "\n- Ngày hẹn trả kết quả: ${ngay_hen_tra}\n\nÔng/Bà theo dõi tình trạng hồ sơ tại "
            "${link_tra_cuu} bằng mã hồ sơ và mã tra cứu in trên Giấy tiếp nhận hồ sơ và hẹn "
            "trả kết quả." + SIGNATURE,
            "${co_quan} đã tiếp nhận hồ sơ ${ma_ho_so}, hẹn trả kết quả ngày ${ngay_hen_tra}. "
            "Tra cứu: ${link_tra_cuu}",
        ),
        NoticeSpec(
            "dossier.result_ready",
            "Hồ sơ đã có kết quả",
            CITIZEN,
            DOSSIER,
            "Hồ sơ ${ma_ho_so} đã có kết quả",
            "Kính gửi Ông/Bà ${nguoi_nop},\n\nHồ sơ ${ma_ho_so} (${thu_tuc}) đã có kết quả "
            "giải quyết.\n\nÔng/Bà tải bản điện tử của kết quả, có chữ ký số của cơ quan, tại "
            "${link_tra_cuu} bằng mã hồ sơ và mã tra cứu in trên Giấy tiếp nhận hồ sơ và hẹn "
            "trả kết quả, hoặc nhận bản giấy tại Bộ phận tiếp nhận và trả kết quả." + SIGNATURE,
            "${co_quan}: hồ sơ ${ma_ho_so} đã có kết quả. Tải kết quả điện tử tại ${link_tra_cuu}",
        ),
        NoticeSpec(
            "dossier.late",
            "Hồ sơ quá hạn",
            CITIZEN,
            {**DOSSIER, "so_ngay_qua_han": "số ngày quá hạn"},
            "Xin lỗi: hồ sơ ${ma_ho_so} chưa có kết quả đúng hẹn",
            "Kính gửi Ông/Bà ${nguoi_nop},\n\n${co_quan} thành thật xin lỗi: hồ sơ ${ma_ho_so} "
            "(${thu_tuc}) hẹn trả kết quả ngày ${ngay_hen_tra} nhưng đến nay chưa giải quyết "
            "xong. Cơ quan sẽ thông báo ngay khi hồ sơ có kết quả.\n\nÔng/Bà theo dõi tình "
            "trạng hồ sơ tại ${link_tra_cuu}." + SIGNATURE,
            "${co_quan} xin lỗi: hồ sơ ${ma_ho_so} chưa có kết quả đúng hẹn ${ngay_hen_tra}. "
            "Tra cứu: ${link_tra_cuu}",
        ),
        NoticeSpec(
            "document.assigned",
            "Văn bản được giao xử lý",
            STAFF,
            DOCUMENT,
            "Văn bản được giao xử lý: ${so_ky_hieu}",
            "Kính gửi ${nguoi_nhan},\n\nĐơn vị của Ông/Bà được giao xử lý văn bản số "
            "${so_ky_hieu} của ${noi_gui}: ${trich_yeu}.\nHạn xử lý: ${han_xu_ly}.\n\n"
            "Xem văn bản: ${link_van_ban}" + SIGNATURE,
            "Được giao xử lý văn bản ${so_ky_hieu}, hạn ${han_xu_ly}: ${link_van_ban}",
        ),
        NoticeSpec(
            "document.due_tomorrow",
            "Văn bản đến hạn xử lý",
            STAFF,
            DOCUMENT,
            "Văn bản ${so_ky_hieu} đến hạn xử lý ngày ${han_xu_ly}",
            "Kính gửi ${nguoi_nhan},\n\nVăn bản số ${so_ky_hieu} của ${noi_gui} (${trich_yeu}) "
            "đến hạn xử lý vào ngày làm việc tới, ${han_xu_ly}.\n\nXem văn bản: ${link_van_ban}"
            + SIGNATURE,
            "Văn bản ${so_ky_hieu} đến hạn xử lý ngày ${han_xu_ly}: ${link_van_ban}",
        ),
        NoticeSpec(
            "document.overdue",
            "Văn bản quá hạn xử lý",
            STAFF,
            DOCUMENT,
            "Văn bản ${so_ky_hieu} đã quá hạn xử lý",
            "Kính gửi ${nguoi_nhan},\n\nVăn bản số ${so_ky_hieu} của ${noi_gui} (${trich_yeu}) "
            "đã quá hạn xử lý (hạn ${han_xu_ly}) mà chưa hoàn thành.\n\nXem văn bản: "
            "${link_van_ban}" + SIGNATURE,
            "Văn bản ${so_ky_hieu} quá hạn xử lý (hạn ${han_xu_ly}): ${link_van_ban}",
        ),
        NoticeSpec(
            "document.awaiting_signature",
            "Văn bản chờ ký",
            STAFF,
            {**DOCUMENT, "trang_thai": "trạng thái văn bản"},
            "Văn bản chờ Ông/Bà duyệt, ký: ${trich_yeu}",
            'Kính gửi ${nguoi_nhan},\n\nDự thảo văn bản "${trich_yeu}" đang chờ Ông/Bà duyệt '
            "và ký số (${trang_thai}).\n\nXem văn bản: ${link_van_ban}" + SIGNATURE,
            "Văn bản chờ duyệt, ký: ${trich_yeu} ${link_van_ban}",
        ),
        NoticeSpec(
            "exchange.refused",
            "Văn bản gửi đi bị từ chối, trả lại",
            STAFF,
            {**DOCUMENT, "co_quan_nhan": "cơ quan nhận", "ly_do": "lý do từ chối"},
            "Văn bản ${so_ky_hieu} bị ${co_quan_nhan} trả lại",
            "Kính gửi ${nguoi_nhan},\n\nVăn bản số ${so_ky_hieu} (${trich_yeu}) gửi qua trục "
            "liên thông đã bị ${co_quan_nhan} từ chối, trả lại.\nLý do: ${ly_do}\n\nXem văn "
            "bản: ${link_van_ban}" + SIGNATURE,
            "Văn bản ${so_ky_hieu} bị ${co_quan_nhan} trả lại: ${ly_do}",
        ),
    )
}
TEST = NoticeSpec(
    "notice.test",
    "Thư thử",
    STAFF,
    COMMON,
    "Thư thử từ ${co_quan}",
    "Thư thử: máy chủ thư của hệ thống gửi được thư tới địa chỉ này." + SIGNATURE,
    "Tin thử từ ${co_quan}",
)


def spec(name: str) -> NoticeSpec:
    if name == TEST.name:
        return TEST
    try:
        return NOTICES[name]
    except KeyError:
        raise ClientError(f"unknown notice {name!r}") from None


def default(name: str, form: str) -> tuple[str, str]:
    """(subject, body) of the System's own wording."""
    s = spec(name)
    return (s.subject, s.body) if form == "email" else ("", s.text)


def check_template(name: str, form: str, subject: str, body: str) -> tuple[str, str]:
    """An administrator's wording: valid ``${…}`` placeholders of this notice only."""
    if form not in FORMS:
        raise ClientError("a template is the 'email' or the 'text' form")
    s = spec(name)
    subject, body = subject.strip(), body.strip()
    if form == "email" and not subject:
        raise ClientError("an e-mail needs a subject")
    if len(subject) > 200 or len(body) > 5000 or not body:
        raise ClientError("the subject is up to 200 characters, the text 1 to 5000")
    if form == "text" and len(body) > 640:
        raise ClientError("a short message is at most 640 characters")
    for label, value in (("subject", subject), ("text", body)):
        t = string.Template(value)
        if not t.is_valid():
            raise ClientError(
                f"the {label} has a malformed placeholder: write ${{name}}, "
                "and $$ for a dollar sign"
            )
        unknown = [i for i in t.get_identifiers() if i not in s.fields]
        if unknown:
            raise ClientError(
                f"the {label} names {', '.join(unknown)}, which this notice "
                f"does not have (it has: {', '.join(s.fields)})"
            )
    return subject, body


def render(template: str, values: dict[str, str]) -> str:
    return string.Template(template).safe_substitute(values)


def ascii_text(text: str) -> str:
    """Vietnamese without diacritics, for gateways that send SMS in plain ASCII."""
    text = text.replace("Đ", "D").replace("đ", "d")
    return "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")
