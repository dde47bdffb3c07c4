"""Urgency as situations: each hazard class found in several phrasings (some as a recogniser
prints them: spaced words, homophones), and the situations that sound alike but are not
urgent: past events, ordinary faults, plans, questions, a fire lane blocked with nothing
burning. Phrasings are written here, apart from the draft corpus."""

from __future__ import annotations

import pytest

from hotline.asr.draft import DraftRules, Utterance, make_draft

RULES = DraftRules.load()

URGENT = {
    "gas": [
        "我刚到家 一开门就是一股很重的煤气味",
        "厨房里天然气的管子在漏 嘶嘶响",
        "楼道里全是然气的味道 邻居都下楼了",  # 燃气 misheard
        "隔壁饭店的液化气罐在往外冒气 老板不在",
        "我妈在卫生间洗澡晕倒了 热水器是燃气的 是不是一氧化碳",
    ],
    "chemical": [
        "路边一辆槽罐车侧翻了 漏出来的东西味道很刺鼻",
        "化工园区那边飘过来一股怪味 好多人咳嗽头晕",
        "我们车间有氨气泄漏 大家都跑出来了",
    ],
    "fire": [
        "快 我们楼下的超市着火了",
        "对面山上起火了 火势很大",
        "小区车棚那里冒黑烟 好像电瓶车烧起来了",
        "隔壁厂房刚才发生爆炸 现在还在冒烟",
        "我家楼上阳台有火苗 往外窜",
    ],
    "trapped": [
        "我被困在电梯里了 电梯停在八楼和九楼中间",
        "我儿子把自己反锁在卫生间里出不来 他才三岁",
        "工地上挖沟塌方 有个工人被埋在土里",
    ],
    "electric": [
        "我们家门口的电线断了 掉在地上还在冒火花",
        "小区配电箱滋滋地响 还冒烟 有股焦糊味",
        "路灯杆子漏电 刚才一个小孩碰了一下被电到了",
    ],
    "collapse": [
        "我们这条街一栋老楼的墙塌了一块",
        "楼上的空调外机摇摇晃晃 随时会掉下来 下面是人行道",
        "大风把广告牌刮倒了 压在路上",
    ],
    "flood": [
        "暴雨 我们小区地下车库进水了 水还在涨",
        "楼上的水管爆了 水顺着楼梯往下流 我家已经淹了",
        "路上的积水很深 已经没过膝盖了 有车熄火在里面",
    ],
    "geo": [
        "后山发生滑坡了 泥巴冲到了村里",
        "山上一直在往下掉石头 下面就是公路",
        "河堤那边有个口子在往外冒水 越来越大",
    ],
    "outage": [
        "我们整个小区都停电了 已经三个多小时了",
        "全村停水两天了 一直到现在都没来水",
        "停电了 我爸在家用呼吸机 机器快没电了",
        "零下十度 我们这一片暖气全停了 家里有婴儿",
    ],
    "water_food": [
        "我们小区的自来水是黄的 还有股怪味 好多人喝了拉肚子",
        "公司食堂中午吃完 十几个同事上吐下泻",
        "孩子们在学校吃了午饭以后都呕吐 被送到医院了",
    ],
    "person": [
        "马路边有个老人倒在地上 叫他没反应",
        "我爸有老年痴呆 早上出门走丢了 到现在也没找到",
        "天台上有个女的要跳楼",
        "我朋友刚才说不想活了 然后电话就打不通了",
        "有个小孩掉进河里了",
    ],
    "violence": [
        "楼下有两个人打起来了 一个拿着刀",
        "我丈夫喝了酒在打我 我躲在房间里",
        "有人在踹我家的门 说要杀了我",
    ],
    "road": [
        "马路中间的井盖没了 一个大窟窿 晚上很危险",
        "高架上掉了一根钢管在车道上 车都在躲",
        "前面路口发生车祸 好几辆车撞在一起",
    ],
    "disease": [
        "我们幼儿园好几个孩子都发烧 手上有疱疹 是不是手足口病",
        "工地宿舍十几个工人都发高烧咳嗽",
        "村里好几户人家都在拉肚子发烧",
    ],
}

NOT_URGENT = [
    # fire lanes and fire risks with nothing burning
    "我们小区的消防通道被车堵了 万一着火消防车进不来",
    "楼道里有人给电动车充电 我担心会着火",
    "商场里的灭火器都过期了 没人换",
    # ordinary faults
    "我家燃气灶打不着火了 找谁修",
    "热水器点不着火 是不是没气了",
    "电梯坏了两天了 物业一直不修",
    "路灯不亮好几天了",
    "我家的暖气不太热 才十八度",
    "就我家停电了 邻居都有电 是不是电费欠了",
    "小区门口的井盖一踩就响 很吵",
    # past and over
    "上个月我们楼下着过一次火 现在想问问保险怎么赔",
    "前两天停了一天水 现在已经来水了 就是想问为啥不提前通知",
    "去年发大水把我家淹了 补贴到现在还没发",
    "上周我在电梯里被困了半个小时 后来出来了 想投诉物业",
    "昨天晚上有人在楼下打架 派出所已经处理了",
    # plans and questions
    "请问燃气泄漏了应该怎么办 我就是先了解一下",
    "明天要停水检修 大概停多久",
    "燃气费在哪里交",
    "怎么检查家里的煤气管道有没有漏",
    # nuisances that sound like hazards
    "隔壁天天烧烤 油烟很大",
    "有人在地里烧秸秆 烟很大 呛得很",
    "孩子打完疫苗有点发烧",
]


@pytest.mark.parametrize(
    ("hazard", "text"),
    [(h, t) for h, texts in URGENT.items() for t in texts],
    ids=lambda v: v[:10] if isinstance(v, str) else v,
)
def test_given_a_hazard_happening_now_when_drafted_then_urgent_with_the_reason(
    hazard: str, text: str
) -> None:
    d = make_draft([Utterance("caller", text)], RULES)
    assert d.urgent, text
    assert d.urgent_reasons and all("：" in r for r in d.urgent_reasons)
    assert d.summary.startswith("【紧急】")


@pytest.mark.parametrize("text", NOT_URGENT, ids=lambda t: t[:12])
def test_given_no_hazard_now_when_drafted_then_not_urgent(text: str) -> None:
    d = make_draft([Utterance("caller", text)], RULES)
    assert not d.urgent, d.urgent_reasons


def test_every_hazard_class_has_a_test() -> None:
    assert {h.name for h in RULES.hazards.hazards} == set(URGENT)


@pytest.mark.parametrize("hazard", sorted(URGENT))
def test_given_a_hazard_class_when_its_phrasings_are_drafted_then_most_name_it(
    hazard: str,
) -> None:
    named = [hazard in make_draft([Utterance("caller", t)], RULES).hazards for t in URGENT[hazard]]
    assert sum(named) >= len(named) - 1, named  # one may be found as another class
