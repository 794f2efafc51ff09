"""Plausible Chinese names, phone numbers and unified social credit codes."""

from __future__ import annotations

import random

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢"
)
GIVEN = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉萍红鹏辉建国晨阳宇浩然欣怡子涵梓轩雨萱思远佳琪博文嘉怡"
)
# Trade-name characters (字号): two of these make a firm's name.
TRADE = (
    "星河恒远华信中科博瑞天成金鼎东方汇通宏达安泰新源瑞丰鑫盛嘉禾长城鸿运众创优品京华泰和盛世"
    "永兴万通启明致远融汇智联德润同仁凯旋方圆海纳云帆银河锦程卓越宝泰祥和润泽腾飞百川"
)
INDUSTRY_WORDS = {
    "tech": ("科技", "信息技术", "网络科技", "软件"),
    "trade": ("商贸", "贸易", "商务", "供应链管理"),
    "construction": ("建筑工程", "建设工程", "装饰工程", "市政工程"),
    "manufacturing": ("机械制造", "电子设备", "精密机械", "包装制品"),
    "services": ("企业管理咨询", "文化传媒", "物业管理", "人力资源"),
    "catering": ("餐饮管理", "餐饮", "食品", "餐饮服务"),
    "other": ("农业发展", "教育咨询", "健康管理", "环保科技"),
}
SUFFIXES = ("有限公司", "有限公司", "有限公司", "有限责任公司")
# GB 32100 alphabet for unified social credit codes (no I, O, S, V, Z).
_CODE_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_DISTRICT_CODES = ("110105", "110108", "110112", "110101", "110102", "110106", "110114", "110115")


def person_name(rng: random.Random) -> str:
    given = rng.choice(GIVEN) + (rng.choice(GIVEN) if rng.random() < 0.7 else "")
    return rng.choice(SURNAMES) + given


def company_name(rng: random.Random, industry: str, taken: set[str]) -> str:
    """A unique company name: 北京 + trade name + industry word + suffix."""
    while True:
        trade = "".join(rng.sample(TRADE, 2)) if rng.random() < 0.85 else "".join(rng.sample(TRADE, 3))
        name = "北京" + trade + rng.choice(INDUSTRY_WORDS[industry]) + rng.choice(SUFFIXES)
        if name not in taken:
            taken.add(name)
            return name


def phone(rng: random.Random) -> str:
    return "1" + rng.choice("3456789") + "".join(rng.choice("0123456789") for _ in range(9))


def credit_code(rng: random.Random) -> str:
    """An 18-char unified social credit code with a valid check character."""
    body = "91" + rng.choice(_DISTRICT_CODES) + "".join(rng.choice(_CODE_CHARS) for _ in range(9))
    total = sum(_CODE_CHARS.index(ch) * w for ch, w in zip(body, _WEIGHTS, strict=True))
    return body + _CODE_CHARS[(31 - total % 31) % 31]
