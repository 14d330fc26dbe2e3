//! Plain-text profile fields: person and company names, countries.

use crate::error::FieldProblem;

/// Longest person name accepted, in characters.
pub const MAX_NAME_CHARS: usize = 100;
/// Longest company name accepted, in characters.
pub const MAX_COMPANY_CHARS: usize = 200;

/// Trims a free-text field and checks it is present, short enough and free of
/// control characters (which have no place in a name and break mail headers).
pub fn parse_text(input: &str, max_chars: usize) -> Result<String, FieldProblem> {
    let s = input.trim();
    if s.is_empty() {
        return Err(FieldProblem::Required);
    }
    if s.chars().count() > max_chars {
        return Err(FieldProblem::TooLong { max: max_chars });
    }
    if s.chars().any(char::is_control) {
        return Err(FieldProblem::BadCharacters);
    }
    Ok(s.to_owned())
}

/// ISO 3166-1 alpha-2 codes, officially assigned.
const COUNTRIES: &str = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL \
BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK \
DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU \
GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ \
LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY \
MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU \
RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO \
TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW";

/// All country codes, for the sign-up form's list.
pub fn country_codes() -> impl Iterator<Item = &'static str> {
    COUNTRIES.split_ascii_whitespace()
}

/// Parses a country code in any case into its uppercase form.
pub fn parse_country(input: &str) -> Result<String, FieldProblem> {
    let s = input.trim().to_ascii_uppercase();
    if s.is_empty() {
        return Err(FieldProblem::Required);
    }
    if country_codes().any(|c| c == s) {
        Ok(s)
    } else {
        Err(FieldProblem::UnknownCountry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn country_list_is_complete_and_unique() {
        let all: Vec<_> = country_codes().collect();
        assert_eq!(all.len(), 249);
        let mut sorted = all.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), 249);
    }

    #[test]
    fn countries_parse_in_any_case() {
        assert_eq!(parse_country("fr").unwrap(), "FR");
        assert_eq!(parse_country("ZZ"), Err(FieldProblem::UnknownCountry));
        assert_eq!(parse_country(" "), Err(FieldProblem::Required));
    }

    #[test]
    fn text_fields_are_trimmed_and_bounded() {
        assert_eq!(parse_text("  Ada ", 10).unwrap(), "Ada");
        assert_eq!(parse_text("", 10), Err(FieldProblem::Required));
        assert_eq!(
            parse_text("abcdefghijk", 10),
            Err(FieldProblem::TooLong { max: 10 })
        );
        assert_eq!(parse_text("a\u{0}b", 10), Err(FieldProblem::BadCharacters));
    }
}
