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

        /// A string schema of the wire names (the derive cannot read a `rename` made by a macro).
        #[cfg(feature = "openapi")]
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                let words = [$(concat!("`", $wire, "` ", $zh)),+].join(", ");
                utoipa::openapi::schema::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .enum_values(Some([$($wire),+]))
                    .description(Some(words))
                    .into()
            }
        }

        #[cfg(feature = "openapi")]
        impl utoipa::ToSchema for $name {}

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
    /// What a case is about: the 14 dispute categories of the Ministry of Justice, then the
    /// categories of incidents and requests, and [`Category::Other`] for every kind.
    ///
    /// Which kinds a category fits: [`Category::kinds`], [`Category::fits`],
    /// [`Category::for_kind`]. New reports and corrections must fit; events recorded before the
    /// rule keep whatever category they carry.
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
        /// 其他: any kind.
        Other = "other" / "其他",
        /// 安全隐患 (incidents): structural, electrical, gas, geological hazards.
        SafetyHazard = "safety_hazard" / "安全隐患",
        /// 消防 (incidents): blocked fire lanes, unsafe e-bike charging, fire risks.
        FireSafety = "fire_safety" / "消防",
        /// 市政设施: street lights, manholes, water and power supply, public equipment.
        PublicFacilities = "public_facilities" / "市政设施",
        /// 环境卫生: rubbish, sanitation, littering, burning, dumping.
        EnvironmentSanitation = "environment_sanitation" / "环境卫生",
        /// 食品药品: food and drug safety.
        FoodDrug = "food_drug" / "食品药品",
        /// 交通道路: road damage, illegal parking, traffic order, buses.
        TrafficRoads = "traffic_roads" / "交通道路",
        /// 特殊人群关爱: elderly living alone, people with disabilities, left-behind children.
        VulnerableCare = "vulnerable_care" / "特殊人群关爱",
        /// 民生服务 (requests): social insurance, subsidies, certificates, public services.
        SocialServices = "social_services" / "民生服务",
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
        /// 智能感知: an alert of a sensor — electricity or water meters, smoke detectors,
        /// cameras with recognition, other IoT devices.
        SmartSensing = "smart_sensing" / "智能感知",
        /// 平台预警: an alert of a data platform's model (e.g. a city brain 城市大脑).
        PlatformAlert = "platform_alert" / "平台预警",
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

impl Category {
    /// The kinds of case this category fits: disputes for the Ministry of Justice's dispute
    /// categories, incidents and/or requests for the others, every kind for
    /// [`Category::Other`].
    pub fn kinds(self) -> &'static [CaseKind] {
        use CaseKind::*;
        use Category::*;
        match self {
            MarriageFamily | Neighbours | HousingHomestead | Contract | Business | Damages
            | ForestLand | Requisition | Pollution | Labour | Consumer | Medical
            | TrafficAccident | PropertyManagement => &[Dispute],
            Other => &[Dispute, Incident, Request],
            SafetyHazard | FireSafety => &[Incident],
            PublicFacilities | EnvironmentSanitation | FoodDrug | TrafficRoads | VulnerableCare => {
                &[Incident, Request]
            }
            SocialServices => &[Request],
        }
    }

    /// Whether the category fits a case of `kind`.
    pub fn fits(self, kind: CaseKind) -> bool {
        self.kinds().contains(&kind)
    }

    /// The categories that fit `kind`, in declaration order (e.g. to offer in a form).
    pub fn for_kind(kind: CaseKind) -> impl Iterator<Item = Category> {
        Category::ALL.iter().copied().filter(move |c| c.fits(kind))
    }
}

impl Satisfaction {
    /// Satisfied or basically satisfied (counts toward 满意率).
    pub fn is_positive(self) -> bool {
        !matches!(self, Satisfaction::Dissatisfied)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Wire names are forever: the old values keep their names and positions, new ones are
    /// appended.
    #[test]
    fn wire_names_are_stable_and_new_values_are_appended() {
        let categories: Vec<&str> = Category::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(
            categories,
            [
                "marriage_family",
                "neighbours",
                "housing_homestead",
                "contract",
                "business",
                "damages",
                "forest_land",
                "requisition",
                "pollution",
                "labour",
                "consumer",
                "medical",
                "traffic_accident",
                "property_management",
                "other",
                "safety_hazard",
                "fire_safety",
                "public_facilities",
                "environment_sanitation",
                "food_drug",
                "traffic_roads",
                "vulnerable_care",
                "social_services",
            ]
        );
        let sources: Vec<&str> = Source::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(
            sources,
            [
                "grid_patrol",
                "citizen_app",
                "hotline_12345",
                "police_110",
                "petition",
                "court",
                "department",
                "higher_level",
                "video",
                "smart_sensing",
                "platform_alert",
            ]
        );
    }

    #[test]
    fn every_kind_has_categories_and_other_fits_them_all() {
        for kind in CaseKind::ALL {
            assert!(Category::Other.fits(*kind));
            assert!(Category::for_kind(*kind).count() >= 6, "{kind}");
        }
        let disputes: Vec<Category> = Category::for_kind(CaseKind::Dispute).collect();
        assert_eq!(disputes, Category::ALL[..15]);
        assert!(!Category::Neighbours.fits(CaseKind::Incident));
        assert!(Category::SafetyHazard.fits(CaseKind::Incident));
        assert!(!Category::SafetyHazard.fits(CaseKind::Request));
        assert!(Category::SocialServices.fits(CaseKind::Request));
        assert!(Category::PublicFacilities.fits(CaseKind::Incident));
        assert!(Category::PublicFacilities.fits(CaseKind::Request));
        // Every category fits some kind, and `kinds` agrees with `for_kind`.
        for c in Category::ALL {
            assert!(!c.kinds().is_empty(), "{c}");
            for kind in CaseKind::ALL {
                assert_eq!(
                    c.fits(*kind),
                    Category::for_kind(*kind).any(|x| x == *c),
                    "{c} {kind}"
                );
            }
        }
    }
}
