//! Words and numbers as people read them: the interface in Chinese (zh-CN, the default) or
//! English, rates as `96.5%`, counts as `12,356`, times in the deployment's time zone, and the
//! domain's refusals in plain words.
//!
//! Every string a page shows comes from [`MESSAGES`] through [`Tr::s`]; a test checks that
//! each key the templates use exists.

use gridcase_domain::{
    CaseKind, Category, Level, RegionTree, Rejection, Role, Severity, Source, Status, Timestamp,
};
use gridcase_projections::{civil_from_days, Period};

/// The interface language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    /// 简体中文, the default.
    #[default]
    Zh,
    /// English.
    En,
}

impl Lang {
    /// `zh` or `en` (the cookie and `?lang=` value).
    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }

    /// The `lang` attribute of the page.
    pub fn html(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    /// Parses `zh` / `en` (and `zh-CN`).
    pub fn parse(s: &str) -> Option<Lang> {
        match s {
            "zh" | "zh-CN" | "zh-cn" => Some(Lang::Zh),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The other language, for the switch.
    pub fn other(self) -> Lang {
        match self {
            Lang::Zh => Lang::En,
            Lang::En => Lang::Zh,
        }
    }
}

/// Translations: key, Chinese, English.
pub const MESSAGES: &[(&str, &str, &str)] = &[
    ("app.name", "网格案件工作台", "gridcase workbench"),
    ("app.lang_switch", "English", "中文"),
    ("nav.work", "我的工作台", "My work"),
    ("nav.report", "上报", "Report"),
    ("nav.search", "检索", "Search"),
    ("nav.stats", "统计分析", "Statistics"),
    ("nav.audit", "审计", "Audit"),
    ("nav.signout", "退出", "Sign out"),
    ("nav.skip", "跳到正文", "Skip to content"),
    ("signin.title", "登录", "Sign in"),
    ("signin.token", "访问令牌", "Access token"),
    (
        "signin.token_help",
        "请输入管理员发放给您的访问令牌。",
        "Enter the token your administrator gave you (the same as for the API).",
    ),
    ("signin.submit", "登录", "Sign in"),
    (
        "signin.bad_token",
        "令牌无效，请核对后重试。",
        "Unknown token: check it and try again.",
    ),
    ("signin.signed_out", "您已退出。", "You have signed out."),
    (
        "signin.expired",
        "登录已过期或表单已失效，请重新登录。",
        "Your session or the form expired: sign in again.",
    ),
    ("report.title", "上报事件", "Report a case"),
    ("report.kind", "类型", "Kind"),
    ("report.category", "类别", "Category"),
    ("report.source", "来源", "Source"),
    ("report.severity", "紧急程度", "Severity"),
    ("report.location", "发生地点", "Location"),
    (
        "report.location_help",
        "逐级选择，最细到网格。",
        "Choose level by level, down to the grid.",
    ),
    (
        "report.whole_unit",
        "（不细分，整个辖区）",
        "(the whole unit)",
    ),
    ("report.unit", "所在辖区", "Your unit"),
    ("report.not_finer", "（不细分）", "(no finer)"),
    ("report.summary", "事件简述", "Summary"),
    (
        "report.summary_help",
        "写清发生了什么、涉及几方、现场情况。不要填写身份证号、电话等个人信息。",
        "What happened, who is involved, the situation on site. No ID or phone numbers.",
    ),
    ("report.happened_at", "发生时间", "When it happened"),
    ("report.submit", "提交上报", "Submit report"),
    ("report.done", "已上报，案件编号", "Reported: case"),
    (
        "report.duplicate",
        "（重复提交，未新建案件）",
        "(submitted again: no second case)",
    ),
    ("report.another", "继续上报", "Report another"),
    ("report.open_case", "查看案件", "Open the case"),
    ("report.fixed", "您的网格", "Your grid"),
    (
        "report.critical_note",
        "重大事项将即时上报乡镇。",
        "Critical matters go to the township at once.",
    ),
    ("stats.title", "统计分析", "Statistics"),
    ("stats.region", "区域", "Region"),
    ("stats.period", "统计周期", "Period"),
    ("stats.ptype.month", "月度", "Month"),
    ("stats.ptype.quarter", "季度", "Quarter"),
    ("stats.ptype.year", "年度", "Year"),
    ("stats.ptype.custom", "自定义", "Custom"),
    ("stats.from", "起", "From"),
    ("stats.to", "止（含）", "To (incl.)"),
    ("stats.as_of", "数据截至", "As known on"),
    ("stats.as_of_help", "留空为当前", "empty: now"),
    ("stats.apply", "查询", "Show"),
    ("stats.grid_rate", "小事不出格", "Settled in the grid"),
    ("stats.village_rate", "大事不出村", "Settled in the village"),
    (
        "stats.township_rate",
        "矛盾不上交",
        "Settled at or below township",
    ),
    ("stats.resolution_rate", "化解率", "Resolution rate"),
    ("stats.vs_prev", "较上期", "vs previous"),
    ("stats.registered", "立案数", "Registered"),
    ("stats.resolved", "已化解", "Resolved"),
    ("stats.open", "在办", "Open"),
    ("audit.mediation", "调解", "Mediation"),
    ("audit.mediating", "进行中", "running"),
    ("audit.resolution", "化解", "Resolution"),
    ("audit.referral", "移送", "Referral"),
    ("audit.feedback", "回访", "Feedback"),
    ("audit.merged_into", "合并到", "Merged into"),
    ("stats.referred", "移送", "Referred out"),
    ("stats.merged", "合并重复", "Merged duplicates"),
    ("stats.overdue_open", "超期未办结", "Overdue, still open"),
    ("stats.overdue_at", "截至", "at"),
    (
        "stats.overdue_help",
        "已立案、尚未化解（未移送、未合并）且已过办理期限的案件，按发生地点计入本区域，无论何时立案；下表按截至时刻承办的单位列出（上报到本区域以外单位的也在内）。",
        "Registered cases not resolved (nor referred out or merged) past their deadline, located in the region whenever registered; below by the unit holding them at that time (a unit above the region included).",
    ),
    ("stats.holding_unit", "承办单位", "Holding unit"),
    ("stats.overdue_count", "超期件数", "Overdue"),
    (
        "stats.by_level",
        "化解层级分布",
        "Where cases were resolved",
    ),
    ("stats.trend", "近十二个月趋势", "Twelve months"),
    ("stats.children", "下级区域排名", "Child regions, ranked"),
    ("stats.rank", "排名", "Rank"),
    ("stats.name", "名称", "Name"),
    ("stats.by_category", "按类别", "By category"),
    ("stats.by_source", "按来源", "By source"),
    ("stats.quality", "办理质量", "Quality of handling"),
    ("stats.mediation_success", "调解成功率", "Mediation success"),
    ("stats.on_time", "按期结案率", "On time"),
    ("stats.satisfaction", "满意率", "Satisfaction"),
    ("stats.overdue", "超期办结", "Resolved late"),
    ("stats.csv", "下载表格（CSV）", "Download table (CSV)"),
    ("stats.print", "打印报告", "Printable report"),
    ("stats.print_now", "打印", "Print"),
    (
        "stats.report_title.month",
        "矛盾纠纷和事件诉求办理情况月报",
        "Monthly report on case resolution",
    ),
    (
        "stats.report_title.quarter",
        "矛盾纠纷和事件诉求办理情况季报",
        "Quarterly report on case resolution",
    ),
    (
        "stats.report_title.year",
        "矛盾纠纷和事件诉求办理情况年报",
        "Annual report on case resolution",
    ),
    (
        "stats.report_title.custom",
        "矛盾纠纷和事件诉求办理情况统计报告",
        "Report on case resolution",
    ),
    (
        "stats.no_children",
        "已是最细一级（网格）。",
        "This is the finest level (a grid).",
    ),
    ("stats.none", "本期无数据。", "No cases in this period."),
    ("stats.up", "返回上级", "Up one level"),
    ("stats.time_zone", "时区", "Time zone"),
    ("stats.generated", "生成时间", "Generated"),
    (
        "stats.denominator",
        "网格、村社、乡镇化解率和化解率的分母为本期立案数；立案数 = 已化解 + 在办 + 移送 + 合并重复（不予立案的报告不计入）。调解成功率、按期结案率、满意率的分母分别为本期结束的调解、本期化解的案件和本期回访。",
        "The grid, village, township and resolution rates are over cases registered in the period; registered = resolved + open + referred out + merged duplicates (reports not registered are not counted). Mediation success, on time and satisfaction are over the mediations concluded, the cases resolved and the feedback given in the period.",
    ),
    ("level.grid", "网格", "Grid"),
    ("level.village", "村社", "Village"),
    ("level.township", "乡镇", "Township"),
    ("level.county", "县", "County"),
    ("level.city", "市", "City"),
    ("audit.title", "审计", "Audit"),
    ("audit.case_id", "案件编号", "Case id"),
    ("audit.open", "查看", "Open"),
    (
        "audit.history",
        "完整历史与哈希链校验",
        "Full history and hash-chain check",
    ),
    (
        "audit.intact",
        "哈希链完整：本案记录逐条相连，内容未被改动（记录是否被整条删除，请用 gridcase-replay verify --checkpoint 核对日志树根）。",
        "Hash chain intact: every record links to the one before it, unaltered. (Whole records removed show against the log's tree head: gridcase-replay verify --checkpoint.)",
    ),
    (
        "audit.broken",
        "哈希链断裂：记录被篡改或缺失。",
        "Hash chain broken: records were altered or are missing.",
    ),
    ("audit.link_ok", "完整", "intact"),
    ("audit.version", "版本", "Version"),
    ("audit.position", "位置", "Position"),
    ("audit.recorded", "记录时间", "Recorded"),
    ("audit.occurred", "发生时间", "Occurred"),
    ("audit.actor", "操作人", "Actor"),
    ("audit.event", "事件", "Event"),
    ("audit.hash", "哈希", "Hash"),
    ("audit.check", "校验", "Check"),
    ("audit.state_at", "某一时刻的状态", "State at a moment"),
    ("audit.at", "时刻", "At"),
    ("audit.show", "显示", "Show"),
    (
        "audit.download",
        "下载历史（JSON）",
        "Download history (JSON)",
    ),
    (
        "audit.not_yet",
        "该时刻案件尚未上报。",
        "The case had not been reported by then.",
    ),
    ("audit.events_applied", "已计入事件", "Events applied"),
    ("audit.status", "状态", "Status"),
    ("audit.holder", "承办单位", "Holding unit"),
    ("audit.handler", "承办人", "Handler"),
    ("audit.deadline", "办理期限", "Deadline"),
    ("audit.path", "流转路径", "Units that held it"),
    ("audit.kind", "类型/类别", "Kind / category"),
    ("audit.location", "地点", "Location"),
    (
        "audit.help",
        "输入案件编号查看其完整历史。",
        "Enter a case id to see its full history.",
    ),
    ("case.title", "案件", "Case"),
    ("case.holder", "承办单位", "Holding unit"),
    ("case.choose_unit", "（请选择）", "(choose)"),
    ("case.supervised", "督办", "Supervised"),
    ("case.overdue", "已超期", "Overdue"),
    ("case.parties", "当事人数", "Parties"),
    ("case.reported_at", "上报时间", "Reported"),
    ("case.registered_at", "立案时间", "Registered"),
    ("case.done", "已办理：", "Done: "),
    (
        "case.done_again",
        "（重复提交，只办理一次）",
        " (sent again: done once)",
    ),
    (
        "case.conflict",
        "提交前案件已有新的办理记录（见下方办理经过）：请核对后重新提交，您填写的内容已保留。",
        "The case changed before your form arrived (see its story below): check and send it again; what you typed is kept.",
    ),
    (
        "case.sent_before",
        "这份表单已经提交过（例如在浏览器后退后再次提交）：页面已更新，您填写的内容已保留，请核对后重新提交。",
        "This form was sent before (for example again after going back in the browser): the page is up to date and what you typed is kept; check and send it again.",
    ),
    (
        "case.form_gone",
        " 此项操作现已不可办理，您填写的内容如下——",
        " This action is no longer offered; what you typed — ",
    ),
    ("case.merged_into", "作为重复案件已合并到：", "Merged, as a duplicate, into"),
    ("story.ended_by_unit", " 代为结束，调解员无法继续", " ended it: the mediator could not go on"),
    ("case.back_to_work", "返回工作台", "Back to my work"),
    ("case.audit", "审计视图", "Audit view"),
    ("case.state", "办理情况", "Where it stands"),
    ("case.handler", "承办人", "Handler"),
    ("case.deadline", "办理期限", "Deadline"),
    ("case.actions", "可办理的操作", "What you can do"),
    (
        "case.no_actions",
        "您现在没有可办理的操作。",
        "Nothing for you to do on this case now.",
    ),
    ("case.facts", "案件信息", "Facts"),
    ("case.location", "发生地点", "Location"),
    ("case.story", "办理经过", "The story"),
    ("case.timeline", "全部记录", "Every record"),
    ("case.when", "办理时间", "When"),
    ("filter.all", "全部", "All"),
    ("filter.overdue", "是否超期", "Overdue"),
    ("filter.overdue_only", "仅看超期", "Overdue only"),
    ("filter.not_overdue", "未超期", "Not overdue"),
    ("filter.apply", "筛选", "Filter"),
    ("work.views", "工作分类", "Views"),
    ("work.queue", "本单位待办", "My unit's queue"),
    ("work.assigned", "指派给我", "Assigned to me"),
    ("work.mediations", "我的调解", "My mediations"),
    ("work.open", "辖区在办", "Open in my region"),
    ("work.empty", "暂无待办案件。", "Nothing to do here."),
    ("work.live", "列表自动更新", "This list updates by itself"),
    ("work.updated", "列表已更新", "List updated"),
    ("list.total", "共", "In all"),
    ("list.cases", "件", "cases"),
    ("list.case", "案件", "Case"),
    ("list.place", "地点", "Place"),
    ("list.status", "状态", "Status"),
    ("list.holder", "承办单位 / 人员", "Unit / people"),
    ("list.deadline", "期限", "Deadline"),
    ("list.reported", "上报于", "reported"),
    ("list.pages", "翻页", "Pages"),
    ("list.first", "第一页", "First page"),
    ("list.next", "下一页", "Next page"),
    ("search.scope", "检索范围", "Within"),
    ("search.whole_scope", "（全部辖区）", "(all of it)"),
    ("search.q", "关键词或案件编号", "Words or a case number"),
    (
        "search.q_placeholder",
        "事件简述中的字词（如：漏水），或案件编号",
        "Words of the summary (e.g. leak), or a case number",
    ),
    ("search.go", "检索", "Search"),
    ("search.region", "区域", "Region"),
    ("search.more", "更多筛选条件", "More filters"),
    ("search.level", "承办层级", "Level"),
    ("search.assignee", "承办人", "Handler"),
    ("search.mediator", "调解员", "Mediator"),
    ("search.from", "上报日期自", "Reported from"),
    ("search.to", "上报日期至（含）", "Reported to (incl.)"),
    ("search.sort", "排序", "Order"),
    ("search.apply", "应用", "Apply"),
    ("search.clear", "清空条件", "Clear"),
    ("search.empty", "没有符合条件的案件。", "No case matches."),
    ("search.sort_newest", "最新上报在前", "Newest first"),
    ("search.sort_oldest", "最早上报在前", "Oldest first"),
    (
        "search.sort_deadline",
        "期限最近在前",
        "Soonest deadline first",
    ),
    (
        "search.sort_updated",
        "最近办理在前",
        "Recently changed first",
    ),
    ("act.register", "立案", "Register"),
    (
        "act.register_help",
        "受理并立案，开始计算办理期限。",
        "Accept the case; its deadline starts now.",
    ),
    ("act.reject", "不予立案", "Do not register"),
    (
        "act.reject_help",
        "重复、不属受理范围或无效的上报不予立案。",
        "Duplicate, out of scope or invalid reports are not registered.",
    ),
    ("act.assign", "派遣", "Assign"),
    (
        "act.assign_help",
        "指定本单位的承办人。",
        "Choose who in the unit handles it.",
    ),
    ("act.escalate", "上报上级", "Escalate"),
    (
        "act.escalate_help",
        "本级无法处理时，报送上级单位。",
        "Send it up when this unit cannot handle it.",
    ),
    ("act.delegate", "交办下级", "Delegate"),
    (
        "act.delegate_help",
        "交由下级单位办理。",
        "Hand it to a unit below.",
    ),
    ("act.refer", "移送", "Refer out"),
    (
        "act.refer_help",
        "移送法院、仲裁、公安、信访或职能部门。",
        "Hand it to a court, arbitration, police, petition office or department.",
    ),
    ("act.return_referral", "移送退回", "Referral returned"),
    (
        "act.return_referral_help",
        "接收机构退回后，本单位继续办理。",
        "The outside body sent it back: the unit handles it again.",
    ),
    ("act.start_mediation", "开始调解", "Start mediation"),
    (
        "act.start_mediation_help",
        "选择调解类型和调解员；调解员随后可在其工作台看到本案。",
        "Choose the type and the mediator, who then sees the case in their work.",
    ),
    ("act.hold_session", "记录调解会", "Record a session"),
    (
        "act.hold_session_help",
        "记录一次调解的经过。",
        "Record what happened at a session.",
    ),
    ("act.conclude", "结束调解", "Conclude mediation"),
    (
        "act.conclude_help",
        "记录调解结果：达成协议或调解不成。",
        "Record the outcome: agreement or failure.",
    ),
    ("f.end_mediation_reason", "结束原因", "Why it ends"),
    (
        "act.end_mediation_help",
        "调解由调解员结束。调解员无法继续时（如外出、回避、退出），可由承办单位结束本次调解，记为调解不成；之后可另行调解或化解。",
        "The mediator ends a mediation. When they cannot go on (away, recused, withdrawn), the holding unit may end it, as not agreed; the case can then be mediated again or resolved.",
    ),
    ("act.resolve", "化解办结", "Resolve"),
    (
        "act.resolve_help",
        "记录化解方式和经过，提交核查。",
        "Record how it was resolved; it then awaits verification.",
    ),
    ("act.verify", "核查通过", "Verify"),
    (
        "act.verify_help",
        "核实化解结果属实。化解人本人不能核查。",
        "Confirm the resolution. Whoever resolved it may not.",
    ),
    ("act.rework", "退回返工", "Send back for rework"),
    (
        "act.rework_help",
        "化解结果不合格，退回重新办理。",
        "The resolution does not hold: handle it again.",
    ),
    ("act.close", "结案", "Close"),
    (
        "act.close_help",
        "核查通过后结案。",
        "Close the case after verification.",
    ),
    ("act.feedback", "回访", "Record feedback"),
    (
        "act.feedback_help",
        "记录当事人对办理结果的评价。",
        "Record how satisfied the parties are.",
    ),
    ("act.reopen", "重新办理", "Reopen"),
    (
        "act.reopen_help",
        "协议未履行、群众不满意或出现新情况时重新办理。",
        "Reopen when the agreement is not honoured, on dissatisfaction or new facts.",
    ),
    ("act.extend", "批准延期", "Extend the deadline"),
    (
        "act.extend_help",
        "上级单位批准延长办理期限。",
        "A unit above approves a later deadline.",
    ),
    ("act.supervise", "督办", "Supervise"),
    (
        "act.supervise_help",
        "上级单位督促承办单位办理。",
        "A unit above presses the holding unit.",
    ),
    ("act.add_party", "新增当事人", "Add a party"),
    (
        "act.add_party_help",
        "登记后来知道的当事人。姓名、身份证号码、电话、地址加密保存在个人信息库中，不写入案件记录。",
        "A party learned after the report. Name, ID number, phone and address are kept encrypted in the personal data vault, never in the case's records.",
    ),
    ("f.party_role", "当事人身份", "Party's role"),
    (
        "f.id_number_help",
        "18位，校验位自动核对；显示时部分隐藏。",
        "18 characters, check character verified; shown masked.",
    ),
    ("parties.title", "当事人", "Parties"),
    ("search.person", "当事人", "Party"),
    (
        "search.person_help",
        "身份证号码、电话或完整姓名，按加密索引精确比对；每次查找记入访问日志。",
        "ID number, phone or full name, matched exactly by keyed index; every lookup is recorded.",
    ),
    ("report.parties", "当事人", "Parties"),
    ("report.party", "当事人", "Party "),
    (
        "report.parties_help",
        "填写了任一项的当事人才会登记。个人信息加密保存，只有承办单位和调解员可以查看，每次查看都有记录。",
        "A party is recorded when any of its fields is filled. Personal data is kept encrypted; only the holding unit and the mediator see it, and every view is recorded.",
    ),
    ("parties.none", "本案未登记当事人。", "No parties are recorded for this case."),
    ("parties.name", "姓名", "Name"),
    ("parties.id_number", "身份证号码", "ID number"),
    ("parties.phone", "电话", "Phone"),
    ("parties.address", "地址", "Address"),
    ("parties.id", "编号", "Id"),
    ("parties.erased", "已删除", "Erased"),
    (
        "parties.no_data",
        "未登记个人信息",
        "No personal data recorded",
    ),
    (
        "parties.hidden",
        "个人信息仅承办单位和正在调解的调解员可见",
        "Personal data is shown to the holding unit and the mediator of a running mediation only",
    ),
    ("parties.reveal", "显示完整身份证号码", "Show the whole ID number"),
    ("parties.revealed", "完整身份证号码（已记录本次查看）：", "The whole ID number (this view is recorded):"),
    ("parties.purpose", "查看用途", "Purpose"),
    (
        "parties.purpose_help",
        "说明为什么需要完整号码，例如“出具调解协议书”。每次查看都会记入访问日志。",
        "Say why the whole number is needed, e.g. drafting the mediation agreement. Every view is recorded in the access log.",
    ),
    ("parties.other", "查看此人的其他案件", "Other cases of this person"),
    ("parties.other_title", "此人的其他案件", "Other cases of this person"),
    (
        "parties.other_help",
        "按身份证号码、电话或姓名的加密索引比对，不解密任何信息；仅同名可能是重名。本次查找已记入访问日志。",
        "Matched by the keyed index of ID number, phone or name, without decrypting anything; a name alone may be a namesake. This lookup is recorded in the access log.",
    ),
    ("parties.other_none", "没有找到此人的其他案件。", "No other cases of this person were found."),
    (
        "parties.other_hidden",
        "另有不在您权限范围内的匹配当事人：",
        "Further matching parties outside your scope:",
    ),
    ("parties.matched_by", "相同的信息", "Matched by"),
    ("parties.back", "返回案件", "Back to the case"),
    ("parties.erase", "删除个人信息", "Erase personal data"),
    (
        "parties.erase_help",
        "依法删除此当事人的姓名、身份证号码、电话和地址（销毁其密钥，无法恢复）。案件经过和统计不受影响。",
        "Erases this party's name, ID number, phone and address by destroying its key; it cannot be undone. The case's history and the statistics are unchanged.",
    ),
    ("parties.legal_basis", "法律依据", "Legal basis"),
    ("parties.remark", "备注", "Remark"),
    (
        "parties.remark_help",
        "例如申请编号。此处明文记录，请勿填写个人信息。",
        "E.g. the request's reference number. Recorded in clear: no personal data here.",
    ),
    ("parties.done_erased", "已删除当事人的个人信息。", "The party's personal data was erased."),
    ("parties.erase_text", "删除案件文字", "Erase the case's text"),
    (
        "parties.erase_text_help",
        "案件的简要情况、备注、记录和理由将无法再读取，显示为［已删除］；案件经过、哈希链和统计不变。此操作不可撤销。",
        "The case's summary, notes, records and reasons can never be read again and show as ［已删除］; its history, hash chain and statistics stay. This cannot be undone.",
    ),
    ("parties.text_erased", "案件文字已删除：", "The case's text was erased: "),
    (
        "parties.text_open",
        "案件文字在案件办结、全部当事人的个人信息删除且保留期满后方可删除。",
        "The case's text can be erased once the case is finished, every party's data is erased and the retention period has passed.",
    ),
    (
        "parties.text_party_held",
        "须先删除全部当事人的个人信息，方可删除案件文字。",
        "Erase every party's personal data first; then the case's text can be erased.",
    ),
    ("parties.text_kept", "案件文字保留期至：", "The case's text is kept until: "),
    (
        "parties.text_kept_refused",
        "案件文字的保留期尚未届满，暂不能删除。",
        "The case's text is kept until its retention period has passed.",
    ),
    (
        "parties.text_unsealed",
        "此案件没有加密保存的文字，无需删除。",
        "This case has no sealed text: there is nothing to erase.",
    ),
    (
        "parties.erased_already",
        "该当事人的个人信息已删除。",
        "The party's personal data was erased.",
    ),
    ("parties.done_text_erased", "已删除案件文字。", "The case's text was erased."),
    (
        "parties.recorded",
        "查看当事人信息会记入访问日志（查看人、时间、用途）。",
        "Viewing parties' personal data is recorded in the access log (who, when, why).",
    ),
    ("access.title", "个人信息访问日志", "Personal data access log"),
    (
        "access.help",
        "谁在何时、以何种用途登记、查看、比对或删除了当事人的个人信息。日志本身不含个人信息。",
        "Who wrote, read, looked up or erased parties' personal data, when and why. The log holds no personal data itself.",
    ),
    ("access.back", "返回审计", "Back to audit"),
    ("access.party", "当事人编号", "Party id"),
    ("access.actor", "操作人编号", "Actor id"),
    ("access.action", "操作", "Action"),
    ("access.any", "（全部）", "(any)"),
    ("access.filter", "筛选", "Filter"),
    ("access.entries", "条记录", "entries"),
    ("access.at", "时间", "When"),
    ("access.who", "操作人", "Who"),
    ("access.fields", "字段", "Fields"),
    ("access.purpose", "用途/依据", "Purpose or basis"),
    ("act.note", "添加备注", "Add a note"),
    (
        "act.note_help",
        "工作备注，记入办理经过。",
        "A working note, kept in the story.",
    ),
    ("act.evidence", "登记证据", "Register evidence"),
    (
        "act.evidence_help",
        "按文件摘要登记证据材料（文件本身另行保存）。",
        "Register evidence by its file digest (the file is kept elsewhere).",
    ),
    ("act.merge", "合并重复案件", "Merge as duplicate"),
    (
        "act.merge_help",
        "本案与另一案件重复时，并入该案件。",
        "Merge this duplicate into another case.",
    ),
    ("act.correct", "更正信息", "Correct details"),
    (
        "act.correct_help",
        "更正录入错误，留痕可查。",
        "Correct an entry error; the correction is recorded.",
    ),
    ("act.take_over", "提级领办", "Take over"),
    (
        "act.take_over_help",
        "上级单位直接接手办理。",
        "The unit above takes the case itself.",
    ),
    ("act.unknown", "操作", "Action"),
    ("f.optional", "（选填）", "(optional)"),
    ("f.me", "本人", "me"),
    ("f.reason", "理由", "Reason"),
    ("f.note", "说明", "Note"),
    ("f.reject_reason", "不予立案原因", "Why not"),
    ("f.handler", "承办人", "Handler"),
    ("f.escalate_to", "报送单位", "Escalate to"),
    ("f.delegate_to", "交办单位", "Delegate to"),
    ("f.refer_target", "移送对象", "Refer to"),
    ("f.refer_body", "接收机构名称", "Name of the body"),
    ("f.mediation_type", "调解类型", "Type of mediation"),
    ("f.mediator", "调解员", "Mediator"),
    ("f.session_summary", "调解经过", "What happened"),
    ("f.outcome", "调解结果", "Outcome"),
    (
        "f.outcome_note",
        "协议内容 / 调解不成原因",
        "Terms, or why it failed",
    ),
    (
        "f.outcome_note_help",
        "调解不成时必填。",
        "Required when it failed.",
    ),
    ("f.method", "化解方式", "How"),
    ("f.level", "化解层级", "Level"),
    ("f.resolution_summary", "化解经过", "What was done"),
    ("f.satisfaction", "满意度", "Satisfaction"),
    ("f.comment", "回访意见", "Comment"),
    ("f.reopen_reason", "重新办理原因", "Why reopen"),
    ("f.new_deadline", "新的办理期限", "New deadline"),
    (
        "f.new_deadline_help",
        "须晚于现有期限。",
        "Later than the current deadline.",
    ),
    ("f.instruction", "督办意见", "Instruction"),
    ("f.note_text", "备注内容", "Note"),
    ("f.content_hash", "文件SHA-256摘要", "SHA-256 of the file"),
    (
        "f.content_hash_help",
        "64位十六进制字符，可用 sha256sum 计算。",
        "64 hexadecimal digits, e.g. from sha256sum.",
    ),
    ("f.media_type", "文件类型", "Media type"),
    ("f.description", "说明", "Description"),
    ("f.merge_into", "保留的案件编号", "Case to keep"),
    ("f.unchanged", "（不变）", "(unchanged)"),
    ("story.moves", "流转", "Moves"),
    ("story.escalated", "上报上级", "Escalated"),
    ("story.delegated", "交办下级", "Delegated"),
    ("story.taken_over", "提级领办", "Taken over"),
    ("story.referral_returned", "移送退回", "Referral returned"),
    ("story.reopened", "重新办理", "Reopened"),
    ("story.deadlines", "办理期限", "Deadlines"),
    ("story.deadline_to", "期限至", "Due"),
    ("story.clock_stopped", "停止计时", "Clock stopped"),
    ("story.referrals", "移送", "Referrals"),
    ("story.returned", "退回", "returned"),
    ("story.mediations", "调解", "Mediations"),
    ("story.due", "调解期限", "due"),
    ("story.concluded", "结束", "concluded"),
    ("story.ongoing", "进行中", "ongoing"),
    ("story.resolutions", "化解", "Resolutions"),
    ("story.late", "超过期限办结", "Resolved after the deadline"),
    ("story.verified", "核查通过", "verified"),
    ("story.reworked", "退回返工", "sent back"),
    ("story.supervisions", "督办", "Supervision"),
    ("story.notes", "备注", "Notes"),
    ("story.evidence", "证据", "Evidence"),
    ("story.feedback", "回访", "Feedback"),
    ("story.corrections", "更正", "Corrections"),
    ("error.title", "出错了", "Something went wrong"),
    ("error.back", "返回", "Back"),
    ("error.reload", "重新加载", "Reload"),
    ("error.400", "提交的内容有误", "The request is malformed"),
    ("error.401", "请先登录", "Sign in first"),
    ("error.403", "无权访问", "Not allowed"),
    ("error.404", "未找到", "Not found"),
    (
        "error.409",
        "内容已被他人更新，请重新加载后再操作。",
        "Someone else changed this: reload and try again.",
    ),
    ("error.413", "提交的内容过大", "The request is too large"),
    ("error.422", "未能办理", "Refused"),
    ("error.500", "系统内部错误", "Internal error"),
    (
        "error.503",
        "系统暂时不可用，请稍后再试。",
        "Temporarily unavailable: retry shortly.",
    ),
    (
        "error.forbidden_case",
        "分析岗位只查看统计数据，不能打开案件。",
        "Analysts read statistics only, not cases.",
    ),
    (
        "error.forbidden_page",
        "您的岗位不能使用此页面。",
        "Your role may not use this page.",
    ),
    (
        "error.forbidden_scope",
        "该区域不在您的管辖范围内。",
        "That region is outside your scope.",
    ),
    (
        "error.not_found",
        "未找到：编号不存在，或不在您的管辖范围内。",
        "Not found: no such id, or outside your scope.",
    ),
    (
        "error.csrf",
        "表单已失效（缺少或错误的校验码），请刷新页面后重新提交。",
        "The form expired (missing or wrong check token): reload the page and submit again.",
    ),
];

/// Looks up translations in one language.
#[derive(Debug, Clone, Copy, Default)]
pub struct Tr {
    /// The language.
    pub lang: Lang,
}

impl Tr {
    /// The text of `key`; the key itself when unknown (a test keeps that from happening).
    pub fn s(&self, key: &str) -> &'static str {
        match MESSAGES.iter().find(|(k, _, _)| *k == key) {
            Some((_, zh, en)) => match self.lang {
                Lang::Zh => zh,
                Lang::En => en,
            },
            None => {
                tracing::warn!(key, "missing translation");
                "?"
            }
        }
    }

    /// Whether the language is Chinese.
    pub fn zh(&self) -> bool {
        self.lang == Lang::Zh
    }

    /// A rate as people read it: `96.5%` (one decimal), `—` without a denominator.
    pub fn pct(&self, r: &Option<f64>) -> String {
        pct(*r)
    }

    /// A count with thousands separators: `12,356`.
    pub fn int(&self, n: &i64) -> String {
        int(*n)
    }

    /// A change of a rate in percentage points: `+1.2 个百分点` / `+1.2 pp`.
    pub fn pp(&self, now: &Option<f64>, before: &Option<f64>) -> String {
        match (now, before) {
            (Some(a), Some(b)) => {
                let d = (a - b) * 100.0;
                let unit = if self.zh() { " 个百分点" } else { " pp" };
                format!("{}{unit}", signed(d))
            }
            _ => "—".into(),
        }
    }

    /// A relative change: `+5.0%` / `−10.5%`.
    pub fn rel(&self, r: &Option<f64>) -> String {
        match r {
            Some(r) => format!("{}%", signed(r * 100.0)),
            None => "—".into(),
        }
    }

    /// A kind's name.
    pub fn kind(&self, k: &CaseKind) -> String {
        self.vocab(k.zh(), k.as_str())
    }

    /// A category's name.
    pub fn category(&self, c: &Category) -> String {
        self.vocab(c.zh(), c.as_str())
    }

    /// A source's name.
    pub fn source(&self, s: &Source) -> String {
        self.vocab(s.zh(), s.as_str())
    }

    /// A severity's name.
    pub fn severity(&self, s: &Severity) -> String {
        self.vocab(s.zh(), s.as_str())
    }

    /// A level's name.
    pub fn level(&self, l: &Level) -> &'static str {
        self.s(&format!("level.{}", l.as_str()))
    }

    /// A role's name.
    pub fn role(&self, r: &Role) -> &'static str {
        match (self.lang, r) {
            (Lang::Zh, Role::GridWorker) => "网格员",
            (Lang::Zh, Role::UnitStaff) => "工作人员",
            (Lang::Zh, Role::Mediator) => "调解员",
            (Lang::Zh, Role::Supervisor) => "督办",
            (Lang::Zh, Role::Auditor) => "审计",
            (Lang::Zh, Role::Analyst) => "分析",
            (Lang::Zh, Role::Admin) => "管理员",
            (Lang::En, Role::GridWorker) => "grid worker",
            (Lang::En, Role::UnitStaff) => "unit staff",
            (Lang::En, Role::Mediator) => "mediator",
            (Lang::En, Role::Supervisor) => "supervisor",
            (Lang::En, Role::Auditor) => "auditor",
            (Lang::En, Role::Analyst) => "analyst",
            (Lang::En, Role::Admin) => "admin",
        }
    }

    /// A status's name.
    pub fn status(&self, s: &Status) -> String {
        let zh = match s {
            Status::New => "未上报",
            Status::Reported => "已上报待立案",
            Status::Registered => "已立案待派遣",
            Status::Assigned => "处理中",
            Status::Referred => "已移送",
            Status::Resolved => "已化解待核查",
            Status::Verified => "核查通过",
            Status::Closed => "已结案",
            Status::Rejected => "不予立案",
            Status::Merged => "已合并",
        };
        self.vocab(zh, s.as_str())
    }

    /// A word of the domain's vocabulary: its Chinese, or its wire name in plain letters.
    pub fn vocab(&self, zh: &str, wire: &str) -> String {
        match self.lang {
            Lang::Zh => zh.to_owned(),
            Lang::En => {
                let s = wire.replace('_', " ");
                let mut c = s.chars();
                c.next()
                    .map(|f| f.to_uppercase().chain(c).collect())
                    .unwrap_or_default()
            }
        }
    }

    /// A period as people name it: `2025年1月`, `2025年第1季度`, `2025年`, or a range of
    /// days with the last day included.
    pub fn period(&self, p: &Period) -> String {
        let (y, m, d) = civil_from_days(p.from);
        let (ly, lm, ld) = civil_from_days(p.to - 1);
        let (ny, nm, nd) = civil_from_days(p.to);
        let whole_months = d == 1 && nd == 1;
        let months = (ny - y) * 12 + nm as i32 - m as i32;
        match (self.lang, whole_months, months) {
            (Lang::Zh, true, 1) => format!("{y}年{m}月"),
            (Lang::En, true, 1) => format!("{y}-{m:02}"),
            (Lang::Zh, true, 3) if m % 3 == 1 => format!("{y}年第{}季度", m / 3 + 1),
            (Lang::En, true, 3) if m % 3 == 1 => format!("{y} Q{}", m / 3 + 1),
            (Lang::Zh, true, 12) if m == 1 => format!("{y}年"),
            (Lang::En, true, 12) if m == 1 => format!("{y}"),
            (Lang::Zh, _, _) => format!("{y}-{m:02}-{d:02} 至 {ly}-{lm:02}-{ld:02}"),
            (Lang::En, _, _) => format!("{y}-{m:02}-{d:02} to {ly}-{lm:02}-{ld:02}"),
        }
    }

    /// A short month label for chart axes: `1月` / `Jan`, with the year on January and on the
    /// axis's `first` month (so that months of two years read apart).
    pub fn month_label(&self, p: &Period, first: bool) -> String {
        let (y, m, _) = civil_from_days(p.from);
        match self.lang {
            Lang::Zh if m == 1 || first => format!("{y}年{m}月"),
            Lang::Zh => format!("{m}月"),
            Lang::En => {
                const N: [&str; 12] = [
                    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
                    "Dec",
                ];
                let name = N[(m as usize).saturating_sub(1) % 12];
                if m == 1 || first {
                    format!("{name} {y}")
                } else {
                    name.to_owned()
                }
            }
        }
    }

    /// A field the domain refused ([`Rejection::InvalidField`]), named `label` as the form
    /// shows it.
    pub fn invalid_field(&self, label: &str, field: &str, reason: &str) -> String {
        if self.lang == Lang::En {
            return format!("{field} {reason}");
        }
        let reason = match reason {
            "must not be empty" => "不能为空",
            "longer than 4000 characters" => "不能超过4000字",
            "is after the report" => "不能晚于上报时间",
            "is before the case was reported" => "不能早于上报时间",
            "more than 50 parties" => "不能超过50人",
            other => other,
        };
        format!("{label}{reason}。")
    }

    /// A malformed field of a form (400), named `label` as the form shows it: what to do, with
    /// the API's reason (`message`) where no words of our own say it better.
    pub fn bad_field(&self, label: &str, field: &str, typed: &str, message: &str) -> String {
        if self.lang == Lang::En {
            return message.to_owned();
        }
        match field {
            "personal" => return "请至少填写当事人的姓名、身份证号码、电话或地址中的一项。".into(),
            // An error serde could not place in one field.
            "form" => return format!("表单内容有误，请检查各项后重新提交（{message}）。"),
            _ => {}
        }
        if typed.is_empty() {
            return format!("请填写或选择“{label}”。");
        }
        match field.rsplit('.').next().unwrap_or(field) {
            "id_number" => {
                "身份证号码有误：应为18位，末位校验码须与前17位相符（末位可为X）。".into()
            }
            "phone" => "电话有误：请填写手机号码（11位）或带区号的固定电话。".into(),
            _ => format!("“{label}”的内容有误，请检查后重新提交（{message}）。"),
        }
    }

    /// A malformed query of a page (400): the statistics' period and as-of date, the audit
    /// view's time.
    pub fn bad_query(&self, field: &str, message: &str) -> String {
        if self.lang == Lang::En {
            return message.to_owned();
        }
        match field {
            "period" | "from" | "to" | "ptype" => {
                let why = if message.contains("52 ISO weeks") {
                    "该年只有52周。"
                } else if message.contains("not after the start") {
                    "结束日不能早于开始日。"
                } else if message.contains("three years") {
                    "统计期间须在一天到三年之间。"
                } else {
                    "请选择年、季度、月、周或日，或填写开始和结束日期（如 2025-01-01 至 2025-01-31）。"
                };
                format!("统计期间有误：{why}")
            }
            "as_of" if message.contains("later than now") => "截至日期有误：不能晚于现在。".into(),
            "as_of" => "截至日期有误：请填写一个日期，如 2025-01-31。".into(),
            "at" => {
                "查看时间有误：请填写日期（如 2025-01-15）或日期和时间（如 2025-01-15 12:00）。"
                    .into()
            }
            other => format!("“{}”有误：{message}", field_label(other)),
        }
    }

    /// The domain's refusal in plain words, with region names instead of codes.
    pub fn rejection(&self, r: &Rejection, regions: &RegionTree, clock: &Clock) -> String {
        let name = |c: &gridcase_domain::RegionCode| {
            regions
                .name(*c)
                .map(|n| format!("{n}（{c}）"))
                .unwrap_or_else(|| c.to_string())
        };
        if self.lang == Lang::En {
            return r.to_string();
        }
        match r {
            Rejection::ReadOnlyRole { role } => {
                format!("{}角色只能查看，不能办理。", self.role(role))
            }
            Rejection::RoleNotPermitted { role, .. } => {
                format!("{}角色不能进行此项操作。", self.role(role))
            }
            Rejection::OutOfScope { region, .. } => {
                format!("{} 不在您的管辖范围内。", name(region))
            }
            Rejection::NotHoldingUnit { holder, .. } => {
                format!("该案件由 {} 承办，您的单位不能办理。", name(holder))
            }
            Rejection::UnknownRegion { code } => format!("区域 {code} 不存在。"),
            Rejection::CaseAlreadyExists => "该案件已存在。".into(),
            Rejection::CaseNotFound => "案件不存在，请先上报。".into(),
            Rejection::InvalidStatus { status, .. } => {
                format!(
                    "案件当前状态为“{}”，不能进行此项操作。",
                    self.status(status)
                )
            }
            Rejection::EscalationNotToAncestor { to, .. } => {
                format!("只能向上级上报，{} 不是上级单位。", name(to))
            }
            Rejection::DelegationNotToDescendant { to, .. } => {
                format!("只能向下级交办，{} 不是下级单位。", name(to))
            }
            Rejection::CriticalBelowTownship { .. } => "重大事项不能交办到乡镇以下。".into(),
            Rejection::NotADispute { .. } => "只有矛盾纠纷才能调解。".into(),
            Rejection::InvalidField { field, reason } => {
                self.invalid_field(field_label(field), field, reason)
            }
            Rejection::NotAboveHolder { holder, .. } => {
                format!("此项须由 {} 的上级单位办理。", name(holder))
            }
            Rejection::NotAssignedMediator { .. } => "只有受指派的调解员才能办理此项调解。".into(),
            Rejection::AssignToOther { .. } => "网格员只能将案件派给自己办理。".into(),
            Rejection::MediationAlreadyActive => "已有调解正在进行。".into(),
            Rejection::PartyAlreadyInCase { .. } => "该当事人已在本案中。".into(),
            Rejection::PersonalNumberInText { field, what } => format!(
                "{}中含有{}：请填在当事人信息里（加密保存、可依法删除），不要写进文字记录（文字记录永久保存）。",
                field_label(field),
                if *what == "an ID number" {
                    "身份证号码"
                } else {
                    "手机号码"
                }
            ),
            Rejection::MediationNotStarted => "尚未开始调解。".into(),
            Rejection::MediationInProgress { .. } => "调解进行中，请先结束调解。".into(),
            Rejection::NoMediatedAgreement => "没有可据以化解的调解协议，请先调解达成协议。".into(),
            Rejection::NotResolved => "案件尚未化解。".into(),
            Rejection::NotVerified => "化解结果尚未核查，不能结案。".into(),
            Rejection::NotClosed => "只有已结案的案件才能重新开启。".into(),
            Rejection::FeedbackAlreadyRecorded => "本次化解已经回访过。".into(),
            Rejection::NoDeadline => "案件没有在办期限。".into(),
            Rejection::DeadlineNotLater { current, .. } => {
                format!("延期后的期限须晚于现有期限（{}）。", clock.minute(*current))
            }
            Rejection::DeadlinePassed { requested, .. } => format!(
                "延期后的期限（{}）已经过去：请批准一个晚于现在的期限。",
                clock.minute(*requested)
            ),
            Rejection::HandlerNotOfUnit { handler, unit } => format!(
                "{handler} 不是承办单位 {} 的工作人员：请从本单位人员中选择承办人。",
                name(unit)
            ),
            Rejection::MediatorNotOfOrganization {
                mediator,
                organization,
            } => format!(
                "{mediator} 不是 {} 的调解员：请从该调解组织的调解员中选择。",
                name(organization)
            ),
            Rejection::MediationOrganizationNotAbove { organization, holder } => format!(
                "{} 不是承办单位 {} 或其上级的调解组织：请由本单位或上级的调解组织调解。",
                name(organization),
                name(holder)
            ),
            Rejection::AgreementByMediatorOnly => {
                "达成协议须由调解员记录；承办单位只能将调解记为调解不成并结束。".into()
            }
            Rejection::MergeIntoSelf => "案件不能与自身合并。".into(),
            Rejection::MergeTargetUnknown { into } => {
                format!("案件编号 {into} 不存在，或不在您的管辖范围内：请核对保留的案件编号。")
            }
            Rejection::MergeTargetNotKept { into, status } => format!(
                "案件 {into} 当前状态为“{}”，不能作为保留的案件：请合并到另一件案件。",
                self.status(status)
            ),
            Rejection::LocationOutsideHolder { holder, .. } => format!(
                "更正后的地点不在承办单位 {} 的辖区内；请通过上报或提级领办移交案件。",
                name(holder)
            ),
            Rejection::EmptyCorrection => "更正内容与原记录相同。".into(),
            Rejection::ResolverCannotVerify { .. } => {
                "化解人不能核查自己的化解结果，请由本单位其他人员或上级核查。".into()
            }
            Rejection::CategoryNotForKind { category, kind } => {
                format!("类别“{}”不适用于{}。", category.zh(), kind.zh())
            }
            Rejection::InTheFuture { field, latest } => format!(
                "{}不能晚于当前时间（最晚 {}）。",
                field_label(field),
                clock.minute(*latest)
            ),
            Rejection::TooFarInThePast { field, earliest } => format!(
                "{}过早（最早 {}），请核实时间。",
                field_label(field),
                clock.minute(*earliest)
            ),
            other => other.to_string(),
        }
    }
}

/// A field's name as the forms show it (`personal.id_number` → 身份证号码); the name itself
/// for a field no form has.
pub fn field_label(field: &str) -> &str {
    match field.rsplit('.').next().unwrap_or(field) {
        "kind" => "类型",
        "category" => "类别",
        "source" => "来源",
        "severity" => "紧急程度",
        "location" => "发生地点",
        "happened_at" => "发生时间",
        "summary" => "事件简述",
        "occurred_at" => "办理时间",
        "parties" => "当事人",
        "reason" => "理由",
        "text" => "备注内容",
        "note" | "comment" | "description" => "说明",
        "to" => "单位",
        "handler" => "承办人",
        "mediator" => "调解员",
        "deadline" => "新的期限",
        "body" => "接收机构",
        "content_hash" => "SHA-256摘要",
        "into" => "保留的案件编号",
        "name" => "姓名",
        "id_number" => "身份证号码",
        "phone" => "电话",
        "address" => "地址",
        "purpose" => "用途",
        _ => field,
    }
}

fn signed(x: f64) -> String {
    // One decimal; "−" (U+2212) reads better than "-" next to digits, and no "−0.0".
    let r = (x * 10.0).round() / 10.0;
    if r > 0.0 {
        format!("+{r:.1}")
    } else if r < 0.0 {
        format!("−{:.1}", -r)
    } else {
        "±0.0".into()
    }
}

/// `96.5%`; `—` when there is no denominator.
pub fn pct(r: Option<f64>) -> String {
    match r {
        Some(r) => format!("{:.1}%", r * 100.0),
        None => "—".into(),
    }
}

/// `12,356`.
pub fn int(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut groups: Vec<&str> = digits
        .as_bytes()
        .rchunks(3)
        .map(|g| std::str::from_utf8(g).unwrap_or_default())
        .collect();
    groups.reverse();
    let sign = if n < 0 { "−" } else { "" };
    format!("{sign}{}", groups.join(","))
}

/// Times in the deployment's time zone.
#[derive(Debug, Clone)]
pub struct Clock {
    tz: jiff::tz::TimeZone,
}

impl Clock {
    /// The clock of an IANA zone name (UTC when unknown: the calendar already checked it).
    pub fn new(name: &str) -> Clock {
        Clock {
            tz: jiff::tz::db().get(name).unwrap_or(jiff::tz::TimeZone::UTC),
        }
    }

    /// `2025-01-31 09:30` in the zone.
    pub fn minute(&self, t: Timestamp) -> String {
        self.zoned(t).strftime("%Y-%m-%d %H:%M").to_string()
    }

    /// `09:30:05` in the zone.
    pub fn time_of_day(&self, t: Timestamp) -> String {
        self.zoned(t).strftime("%H:%M:%S").to_string()
    }

    /// `2025-01-31 09:30:05` in the zone.
    pub fn second(&self, t: Timestamp) -> String {
        self.zoned(t).strftime("%Y-%m-%d %H:%M:%S").to_string()
    }

    /// The value of an `<input type="datetime-local">`: `2025-01-31T09:30`.
    pub fn input(&self, t: Timestamp) -> String {
        self.zoned(t).strftime("%Y-%m-%dT%H:%M").to_string()
    }

    /// The value of an `<input type="date">`: `2025-01-31`.
    pub fn date_input(&self, t: Timestamp) -> String {
        self.zoned(t).strftime("%Y-%m-%d").to_string()
    }

    /// Parses a `datetime-local` value (`2025-01-31T09:30`, seconds optional) in the zone.
    pub fn parse_input(&self, s: &str) -> Option<Timestamp> {
        let dt: jiff::civil::DateTime = s.trim().parse().ok()?;
        let z = dt.to_zoned_datetime(self.tz.clone()).ok()?;
        Some(Timestamp::from_millis(z.timestamp().as_millisecond()))
    }

    /// The first instant of a local date (`2025-01-31` → 00:00 that day in the zone).
    pub fn start_of_date(&self, s: &str) -> Option<Timestamp> {
        let d: jiff::civil::Date = s.trim().parse().ok()?;
        let z = d.to_zoned_datetime(self.tz.clone()).ok()?;
        Some(Timestamp::from_millis(z.timestamp().as_millisecond()))
    }

    /// The last instant of a local date (`2025-01-31` → 23:59:59.999 that day): "as known
    /// on" a day.
    pub fn end_of_date(&self, s: &str) -> Option<Timestamp> {
        let d: jiff::civil::Date = s.trim().parse().ok()?;
        let next = d.tomorrow().ok()?.to_zoned_datetime(self.tz.clone()).ok()?;
        Some(Timestamp::from_millis(
            next.timestamp().as_millisecond() - 1,
        ))
    }

    fn zoned(&self, t: Timestamp) -> jiff::ZonedDateTime {
        t.to_jiff().to_zoned_datetime(self.tz.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_counts_and_changes_read_as_people_write_them() {
        assert_eq!(pct(Some(0.965)), "96.5%");
        assert_eq!(pct(Some(0.99284)), "99.3%");
        assert_eq!(pct(Some(1.0)), "100.0%");
        assert_eq!(pct(None), "—");
        assert_eq!(int(12_356), "12,356");
        assert_eq!(int(999), "999");
        assert_eq!(int(1_000_000), "1,000,000");
        assert_eq!(int(-1_234), "−1,234");
        let zh = Tr { lang: Lang::Zh };
        let en = Tr { lang: Lang::En };
        assert_eq!(zh.pp(&Some(0.965), &Some(0.953)), "+1.2 个百分点");
        assert_eq!(en.pp(&Some(0.95), &Some(0.96)), "−1.0 pp");
        assert_eq!(en.pp(&Some(0.95), &None), "—");
        assert_eq!(zh.rel(&Some(-0.1049)), "−10.5%");
        assert_eq!(zh.rel(&Some(0.0)), "±0.0%");
    }

    #[test]
    fn periods_are_named_by_their_shape() {
        let zh = Tr { lang: Lang::Zh };
        let en = Tr { lang: Lang::En };
        let p = |s| Period::parse(s).unwrap();
        assert_eq!(zh.period(&p("2025-01")), "2025年1月");
        assert_eq!(en.period(&p("2025-01")), "2025-01");
        assert_eq!(zh.period(&p("2025-Q2")), "2025年第2季度");
        assert_eq!(en.period(&p("2025-Q4")), "2025 Q4");
        assert_eq!(zh.period(&p("2025")), "2025年");
        assert_eq!(
            zh.period(&p("2025-01-05..2025-02-01")),
            "2025-01-05 至 2025-01-31"
        );
        assert_eq!(zh.month_label(&p("2025-03"), false), "3月");
        assert_eq!(zh.month_label(&p("2026-01"), false), "2026年1月");
        assert_eq!(zh.month_label(&p("2024-02"), true), "2024年2月");
        assert_eq!(en.month_label(&p("2025-03"), false), "Mar");
        assert_eq!(en.month_label(&p("2024-02"), true), "Feb 2024");
    }

    #[test]
    fn times_are_shown_and_read_in_the_deployment_zone() {
        let c = Clock::new("Asia/Shanghai");
        let t = Timestamp::parse("2025-01-31T17:30:00Z").unwrap();
        assert_eq!(c.minute(t), "2025-02-01 01:30");
        assert_eq!(c.input(t), "2025-02-01T01:30");
        assert_eq!(c.parse_input("2025-02-01T01:30"), Some(t));
        assert_eq!(
            c.end_of_date("2025-01-31"),
            Some(Timestamp::parse("2025-01-31T15:59:59.999Z").unwrap())
        );
        assert_eq!(c.parse_input("yesterday"), None);
        let utc = Clock::new("UTC");
        assert_eq!(utc.minute(t), "2025-01-31 17:30");
    }

    #[test]
    fn vocabulary_has_both_languages() {
        let zh = Tr { lang: Lang::Zh };
        let en = Tr { lang: Lang::En };
        assert_eq!(zh.category(&Category::Neighbours), "邻里");
        assert_eq!(en.category(&Category::MarriageFamily), "Marriage family");
        assert_eq!(zh.source(&Source::Hotline), "12345热线");
        assert_eq!(en.level(&Level::Township), "Township");
        assert_eq!(zh.level(&Level::Grid), "网格");
    }

    #[test]
    fn refusals_are_plain_chinese() {
        let regions = gridcase_regions::bundled_divisions();
        let zh = Tr { lang: Lang::Zh };
        let r = Rejection::InvalidField {
            field: "happened_at",
            reason: "is after the report",
        };
        let clock = Clock::new("Asia/Shanghai");
        assert_eq!(
            zh.rejection(&r, regions, &clock),
            "发生时间不能晚于上报时间。"
        );
        let r = Rejection::OutOfScope {
            actor: gridcase_domain::ActorId::new("gw-1").unwrap(),
            region: "330802".parse().unwrap(),
        };
        assert_eq!(
            zh.rejection(&r, regions, &clock),
            "柯城区（330802） 不在您的管辖范围内。"
        );
        // Every refusal reads in Chinese, the new rules included.
        let r = Rejection::InTheFuture {
            field: "happened_at",
            latest: gridcase_domain::Timestamp::parse("2025-01-31T01:30:00Z").unwrap(),
        };
        assert_eq!(
            zh.rejection(&r, regions, &clock),
            "发生时间不能晚于当前时间（最晚 2025-01-31 09:30）。"
        );
        let r = Rejection::ResolverCannotVerify {
            resolver: gridcase_domain::ActorId::new("staff-v1").unwrap(),
        };
        assert!(zh.rejection(&r, regions, &clock).contains("不能核查自己"));
    }

    #[test]
    fn every_key_has_both_languages_once() {
        let mut seen = std::collections::BTreeSet::new();
        for (k, zh, en) in MESSAGES {
            assert!(seen.insert(*k), "{k} twice");
            assert!(!zh.is_empty() && !en.is_empty(), "{k}");
        }
    }

    /// Every `t.s("…")` in the templates names a key of [`MESSAGES`].
    #[test]
    fn every_key_the_templates_use_exists() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
        let mut files = vec![dir.clone()];
        let mut used = 0;
        while let Some(p) = files.pop() {
            if p.is_dir() {
                files.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
                continue;
            }
            let text = std::fs::read_to_string(&p).unwrap();
            for part in text.split("t.s(\"").skip(1) {
                let key = part.split('"').next().unwrap();
                assert!(
                    MESSAGES.iter().any(|(k, _, _)| *k == key),
                    "{}: no translation for {key:?}",
                    p.display()
                );
                used += 1;
            }
        }
        assert!(used > 50, "found only {used} keys: is the scan right?");
    }
}
