//! The case vocabulary: kinds, categories, sources, severities and outcomes.
//!
//! All of these serialize as stable snake_case strings, never as variant positions.

use serde::{Deserialize, Serialize};

macro_rules! vocab {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $wire:literal / $zh:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vdoc])* #[serde(rename = $wire)] $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stable wire name.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $wire),+ }
            }

            /// The Chinese name used in the sources.
            pub fn zh(self) -> &'static str {
                match self { $($name::$variant => $zh),+ }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = UnknownValue;
            fn from_str(s: &str) -> Result<Self, UnknownValue> {
                match s {
                    $($wire => Ok($name::$variant),)+
                    _ => Err(UnknownValue { kind: stringify!($name), input: s.to_owned() }),
                }
            }
        }
    };
}

/// A string that names no value of a vocabulary.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{input:?} is not a known {kind}")]
pub struct UnknownValue {
    /// The vocabulary.
    pub kind: &'static str,
    /// The rejected input.
    pub input: String,
}

vocab!(
    /// What sort of matter a case is.
    CaseKind {
        /// 矛盾纠纷: a dispute between parties.
        Dispute = "dispute" / "矛盾纠纷",
        /// 事件隐患: an incident or hazard.
        Incident = "incident" / "事件隐患",
        /// 民生诉求: a request from a citizen.
        Request = "request" / "民生诉求",
    }
);

vocab!(
    /// Dispute categories (Ministry of Justice, 15).
    Category {
        /// 婚姻家庭
        MarriageFamily = "marriage_family" / "婚姻家庭",
        /// 邻里
        Neighbours = "neighbours" / "邻里",
        /// 房屋宅基地
        HousingHomestead = "housing_homestead" / "房屋宅基地",
        /// 合同
        Contract = "contract" / "合同",
        /// 生产经营
        Business = "business" / "生产经营",
        /// 损害赔偿
        Damages = "damages" / "损害赔偿",
        /// 山林土地
        ForestLand = "forest_land" / "山林土地",
        /// 征地拆迁
        Requisition = "requisition" / "征地拆迁",
        /// 环境污染
        Pollution = "pollution" / "环境污染",
        /// 劳动争议
        Labour = "labour" / "劳动争议",
        /// 消费
        Consumer = "consumer" / "消费",
        /// 医疗
        Medical = "medical" / "医疗",
        /// 道路交通事故
        TrafficAccident = "traffic_accident" / "道路交通事故",
        /// 物业
        PropertyManagement = "property_management" / "物业",
        /// 其他
        Other = "other" / "其他",
    }
);

vocab!(
    /// Where a report came from.
    Source {
        /// 网格员巡查
        GridPatrol = "grid_patrol" / "网格员巡查",
        /// 随手拍 / 村情通
        CitizenApp = "citizen_app" / "随手拍",
        /// 12345 hotline
        Hotline = "hotline_12345" / "12345热线",
        /// 110 police linkage 警源
        Police = "police_110" / "警源",
        /// 信访 访源
        Petition = "petition" / "访源",
        /// Court pre-litigation referral 诉源
        Court = "court" / "诉源",
        /// Department transfer
        Department = "department" / "部门移交",
        /// 上级交办
        HigherLevel = "higher_level" / "上级交办",
        /// 雪亮工程 video discovery
        Video = "video" / "雪亮工程",
    }
);

vocab!(
    /// How serious a case is.
    Severity {
        /// 一般
        Normal = "normal" / "一般",
        /// 紧急: urgent at grid level means the same day.
        Urgent = "urgent" / "紧急",
        /// 重大: must reach the township at once.
        Critical = "critical" / "重大",
    }
);

vocab!(
    /// Why a report was not registered.
    RejectReason {
        /// A duplicate of another report.
        Duplicate = "duplicate" / "重复",
        /// Not a matter for this system.
        OutOfScope = "out_of_scope" / "不属受理范围",
        /// False or unfounded.
        Invalid = "invalid" / "无效",
    }
);

vocab!(
    /// Outside bodies a case can be referred to (移送).
    ReferralTarget {
        /// Court 法院
        Court = "court" / "法院",
        /// Arbitration 仲裁
        Arbitration = "arbitration" / "仲裁",
        /// Police 公安
        Police = "police" / "公安",
        /// Petition office 信访
        PetitionOffice = "petition_office" / "信访",
        /// A government department
        Department = "department" / "职能部门",
    }
);

vocab!(
    /// Types of mediation.
    MediationType {
        /// 人民调解
        People = "people" / "人民调解",
        /// 行政调解
        Administrative = "administrative" / "行政调解",
        /// 司法调解
        Judicial = "judicial" / "司法调解",
    }
);

vocab!(
    /// How a mediation ended.
    MediationOutcome {
        /// 达成协议
        Agreement = "agreement" / "达成协议",
        /// 调解不成
        Failure = "failure" / "调解不成",
    }
);

vocab!(
    /// How a case was resolved (化解/处置).
    ResolutionMethod {
        /// By a mediated agreement (needs a concluded mediation with an agreement).
        MediatedAgreement = "mediated_agreement" / "调解协议",
        /// Handled on the spot.
        OnTheSpot = "on_the_spot" / "现场处置",
        /// Handled by a department.
        DepartmentHandling = "department_handling" / "部门处置",
        /// Explanation and persuasion.
        Explanation = "explanation" / "解释疏导",
        /// The applicant withdrew.
        Withdrawal = "withdrawal" / "撤回",
    }
);

vocab!(
    /// 回访 satisfaction.
    Satisfaction {
        /// 满意
        Satisfied = "satisfied" / "满意",
        /// 基本满意
        BasicallySatisfied = "basically_satisfied" / "基本满意",
        /// 不满意
        Dissatisfied = "dissatisfied" / "不满意",
    }
);

vocab!(
    /// Why a closed case was reopened.
    ReopenReason {
        /// The agreement was not honoured.
        AgreementNotHonoured = "agreement_not_honoured" / "协议未履行",
        /// The party was dissatisfied.
        Dissatisfied = "dissatisfied" / "群众不满意",
        /// New facts came to light.
        NewFacts = "new_facts" / "出现新情况",
    }
);

vocab!(
    /// A party's role in a case.
    PartyRole {
        /// 申请人 the applicant.
        Applicant = "applicant" / "申请人",
        /// 被申请人 the respondent.
        Respondent = "respondent" / "被申请人",
        /// A third party.
        ThirdParty = "third_party" / "第三人",
        /// The person who reported the matter.
        Reporter = "reporter" / "反映人",
    }
);

impl Satisfaction {
    /// Satisfied or basically satisfied (counts toward 满意率).
    pub fn is_positive(self) -> bool {
        !matches!(self, Satisfaction::Dissatisfied)
    }
}
