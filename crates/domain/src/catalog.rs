//! The provincial catalog: sector groups and sectors (with their GB/T
//! 4754-2017 industry codes) and the nine prefecture-level regions (GB/T 2260).

/// A sector of the revitalization programme.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sector {
    pub code: &'static str,
    pub name: &'static str,
    pub name_zh: &'static str,
    pub group: &'static str,
    pub industry_codes: &'static [&'static str],
}

/// A prefecture-level region of Jilin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Region {
    pub code: &'static str,
    pub name: &'static str,
    pub name_zh: &'static str,
    /// Part of the Changchun-Jilin-Tumen development zone.
    pub changjitu: bool,
}

/// The five sector groups.
pub const GROUPS: [&str; 5] = [
    "pillar",
    "advantageous",
    "emerging",
    "traditional",
    "services",
];

const fn sector(
    code: &'static str,
    name: &'static str,
    name_zh: &'static str,
    group: &'static str,
    industry_codes: &'static [&'static str],
) -> Sector {
    Sector {
        code,
        name,
        name_zh,
        group,
        industry_codes,
    }
}

pub const SECTORS: &[Sector] = &[
    sector("automobile", "Automobile", "汽车", "pillar", &["C36"]),
    sector(
        "petrochemical",
        "Petrochemical",
        "石油化工",
        "pillar",
        &["C25", "C26", "C28", "C29"],
    ),
    sector(
        "agri-products-processing",
        "Agricultural products processing",
        "农产品加工",
        "pillar",
        &["C13", "C14", "C15"],
    ),
    sector(
        "medicine-health",
        "Medicine and health",
        "医药健康",
        "advantageous",
        &["C27"],
    ),
    sector(
        "equipment-manufacturing",
        "Equipment manufacturing",
        "装备制造",
        "advantageous",
        &["C34", "C35", "C37", "C38", "C40"],
    ),
    sector(
        "construction",
        "Construction",
        "建筑",
        "advantageous",
        &["E47", "E48", "E49", "E50"],
    ),
    sector(
        "tourism",
        "Tourism",
        "旅游",
        "advantageous",
        &["L727", "N786"],
    ),
    sector(
        "new-energy-vehicles",
        "New-energy vehicles",
        "新能源汽车",
        "emerging",
        &["C3612", "C3842"],
    ),
    sector(
        "new-materials",
        "New materials",
        "新材料",
        "emerging",
        &["C265", "C3985"],
    ),
    sector(
        "biotech",
        "Biotechnology",
        "生物技术",
        "emerging",
        &["C276", "M734"],
    ),
    sector(
        "electronic-information",
        "Electronic information",
        "电子信息",
        "emerging",
        &["C39", "I65"],
    ),
    sector(
        "new-energy",
        "New energy",
        "新能源",
        "emerging",
        &["D4415", "D4416", "C3825"],
    ),
    sector(
        "high-end-equipment",
        "High-end equipment",
        "高端装备",
        "emerging",
        &["C343", "C374"],
    ),
    sector(
        "energy-saving-environmental",
        "Energy saving and environmental protection",
        "节能环保",
        "emerging",
        &["C346", "N772"],
    ),
    sector(
        "metallurgy",
        "Metallurgy",
        "冶金",
        "traditional",
        &["C31", "C32"],
    ),
    sector(
        "building-materials",
        "Building materials",
        "建材",
        "traditional",
        &["C30"],
    ),
    sector(
        "light-textiles",
        "Light industry and textiles",
        "轻纺",
        "traditional",
        &["C17", "C18", "C19"],
    ),
    sector(
        "logistics",
        "Logistics",
        "现代物流",
        "services",
        &["G54", "G58", "G59", "G60"],
    ),
    sector(
        "finance",
        "Finance",
        "金融",
        "services",
        &["J66", "J67", "J68", "J69"],
    ),
    sector(
        "modern-services",
        "Modern services",
        "现代服务业",
        "services",
        &["I64", "L72", "M73", "M74", "M75"],
    ),
];

const fn region(
    code: &'static str,
    name: &'static str,
    name_zh: &'static str,
    changjitu: bool,
) -> Region {
    Region {
        code,
        name,
        name_zh,
        changjitu,
    }
}

pub const REGIONS: &[Region] = &[
    region("220100", "Changchun", "长春市", true),
    region("220200", "Jilin", "吉林市", true),
    region("220300", "Siping", "四平市", false),
    region("220400", "Liaoyuan", "辽源市", false),
    region("220500", "Tonghua", "通化市", false),
    region("220600", "Baishan", "白山市", false),
    region("220700", "Songyuan", "松原市", false),
    region("220800", "Baicheng", "白城市", false),
    region(
        "222400",
        "Yanbian Korean Autonomous Prefecture",
        "延边朝鲜族自治州",
        true,
    ),
];

pub fn sector_by_code(code: &str) -> Option<&'static Sector> {
    SECTORS.iter().find(|sector| sector.code == code)
}

/// The prefecture a GB/T 2260 code belongs to: the prefecture itself
/// (`220100`) or a county/district under it (`220182`).
pub fn prefecture_of(region_code: &str) -> Option<&'static Region> {
    if region_code.len() != 6 || !region_code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let prefix = &region_code[..4];
    REGIONS
        .iter()
        .find(|region| region.code.starts_with(prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sector_belongs_to_a_known_group_and_codes_are_unique() {
        for sector in SECTORS {
            assert!(GROUPS.contains(&sector.group), "{}", sector.code);
            assert_eq!(SECTORS.iter().filter(|s| s.code == sector.code).count(), 1);
        }
        for group in GROUPS {
            assert!(
                SECTORS.iter().any(|s| s.group == group),
                "{group} has sectors"
            );
        }
    }

    #[test]
    fn counties_roll_up_to_their_prefecture() {
        assert_eq!(prefecture_of("220100").unwrap().name, "Changchun");
        assert_eq!(prefecture_of("220182").unwrap().name, "Changchun");
        assert_eq!(prefecture_of("222426").unwrap().name_zh, "延边朝鲜族自治州");
        assert!(
            prefecture_of("210100").is_none(),
            "Shenyang is not in Jilin"
        );
        assert!(prefecture_of("2201").is_none());
        assert!(prefecture_of("22010x").is_none());
    }

    #[test]
    fn changjitu_is_changchun_jilin_and_yanbian() {
        let zone: Vec<_> = REGIONS
            .iter()
            .filter(|r| r.changjitu)
            .map(|r| r.code)
            .collect();
        assert_eq!(zone, ["220100", "220200", "222400"]);
    }
}
