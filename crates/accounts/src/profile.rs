//! The holder's profile: name, company, postal address, phone, country and
//! language. [`ProfileInput`] is what a form or a JSON body sends;
//! [`Profile::parse`] checks every field at once and gives either a profile
//! to save or every refused field, so that a wrong field saves nothing.

use crate::error::{FieldError, FieldProblem};
use crate::names::{MAX_COMPANY_CHARS, MAX_NAME_CHARS, parse_country, parse_text};
use crate::service::Language;

/// Longest address line, city or region, in characters.
pub const MAX_ADDRESS_CHARS: usize = 100;
/// Longest postcode, in characters (the longest in use have 10).
pub const MAX_POSTCODE_CHARS: usize = 12;
/// Longest phone number as typed, separators included.
pub const MAX_PHONE_CHARS: usize = 32;

/// The profile fields as sent, unparsed. Missing fields are empty strings.
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct ProfileInput {
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// `individual` or `company`.
    pub kind: String,
    /// Company name, required for a company.
    pub company_name: String,
    /// First address line.
    pub address_line1: String,
    /// Second address line (optional).
    pub address_line2: String,
    /// Postcode.
    pub postcode: String,
    /// City.
    pub city: String,
    /// Region, state or province (optional).
    pub region: String,
    /// Phone number in international format (optional).
    pub phone: String,
    /// ISO 3166-1 alpha-2 country.
    pub country: String,
    /// `en`, `fr` or `it`.
    pub language: String,
}

/// A postal address; line 1, postcode and city are required once any part
/// is given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Address {
    /// First line.
    pub line1: String,
    /// Second line.
    pub line2: Option<String>,
    /// Postcode.
    pub postcode: String,
    /// City.
    pub city: String,
    /// Region.
    pub region: Option<String>,
}

/// A phone number in E.164 form: `+` and 8 to 15 digits, the first not 0.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    /// Parses a number typed with optional spaces, dots, dashes or
    /// parentheses between the digits; it must start with `+`.
    pub fn parse(input: &str) -> Result<Self, FieldProblem> {
        let s = input.trim();
        if s.chars().count() > MAX_PHONE_CHARS {
            return Err(FieldProblem::TooLong {
                max: MAX_PHONE_CHARS,
            });
        }
        let Some(rest) = s.strip_prefix('+') else {
            return Err(FieldProblem::InvalidPhone);
        };
        let mut digits = String::with_capacity(15);
        for c in rest.chars() {
            match c {
                '0'..='9' => digits.push(c),
                ' ' | '.' | '-' | '(' | ')' => {}
                _ => return Err(FieldProblem::InvalidPhone),
            }
        }
        if !(8..=15).contains(&digits.len()) || digits.starts_with('0') {
            return Err(FieldProblem::InvalidPhone);
        }
        Ok(Self(format!("+{digits}")))
    }

    /// The number, `+33612345678`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A parsed profile, ready to save.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Profile {
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// The company's name, `None` for an individual.
    pub company_name: Option<String>,
    /// Postal address.
    pub address: Option<Address>,
    /// Phone.
    pub phone: Option<PhoneNumber>,
    /// Country, uppercase.
    pub country: String,
    /// Language.
    pub language: Language,
}

/// An optional free-text field: empty is `None`.
fn optional(input: &str, max: usize) -> Result<Option<String>, FieldProblem> {
    if input.trim().is_empty() {
        Ok(None)
    } else {
        parse_text(input, max).map(Some)
    }
}

fn parse_postcode(input: &str) -> Result<String, FieldProblem> {
    let s = parse_text(input, MAX_POSTCODE_CHARS)?;
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || c == ' ' || c == '-')
    {
        Ok(s.to_ascii_uppercase())
    } else {
        Err(FieldProblem::BadCharacters)
    }
}

impl Profile {
    /// Checks every field; on error, every refused field with its problem,
    /// in the form's order.
    pub fn parse(i: &ProfileInput) -> Result<Profile, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut note = |field: &'static str, problem: FieldProblem| {
            errors.push(FieldError { field, problem });
        };
        let first_name = parse_text(&i.first_name, MAX_NAME_CHARS)
            .map_err(|p| note("first_name", p))
            .ok();
        let last_name = parse_text(&i.last_name, MAX_NAME_CHARS)
            .map_err(|p| note("last_name", p))
            .ok();
        let company_name = match i.kind.trim() {
            "individual" => Some(None),
            "company" => parse_text(&i.company_name, MAX_COMPANY_CHARS)
                .map(Some)
                .map_err(|p| note("company_name", p))
                .ok(),
            _ => {
                note("kind", FieldProblem::UnknownKind);
                None
            }
        };
        let any_address = [
            &i.address_line1,
            &i.address_line2,
            &i.postcode,
            &i.city,
            &i.region,
        ]
        .iter()
        .any(|f| !f.trim().is_empty());
        let line1 = parse_text(&i.address_line1, MAX_ADDRESS_CHARS);
        let line2 = optional(&i.address_line2, MAX_ADDRESS_CHARS);
        let postcode = parse_postcode(&i.postcode);
        let city = parse_text(&i.city, MAX_ADDRESS_CHARS);
        let region = optional(&i.region, MAX_ADDRESS_CHARS);
        let address = if any_address {
            let line1 = line1.map_err(|p| note("address_line1", p)).ok();
            let line2 = line2.map_err(|p| note("address_line2", p)).ok();
            let postcode = postcode.map_err(|p| note("postcode", p)).ok();
            let city = city.map_err(|p| note("city", p)).ok();
            let region = region.map_err(|p| note("region", p)).ok();
            match (line1, line2, postcode, city, region) {
                (Some(line1), Some(line2), Some(postcode), Some(city), Some(region)) => {
                    Some(Some(Address {
                        line1,
                        line2,
                        postcode,
                        city,
                        region,
                    }))
                }
                _ => None,
            }
        } else {
            Some(None)
        };
        let phone = if i.phone.trim().is_empty() {
            Some(None)
        } else {
            PhoneNumber::parse(&i.phone)
                .map(Some)
                .map_err(|p| note("phone", p))
                .ok()
        };
        let country = parse_country(&i.country)
            .map_err(|p| note("country", p))
            .ok();
        let language = Language::parse(&i.language);
        if language.is_none() {
            note("language", FieldProblem::UnknownLanguage);
        }
        match (
            first_name,
            last_name,
            company_name,
            address,
            phone,
            country,
            language,
        ) {
            (Some(f), Some(l), Some(co), Some(a), Some(ph), Some(c), Some(lang)) => Ok(Profile {
                first_name: f,
                last_name: l,
                company_name: co,
                address: a,
                phone: ph,
                country: c,
                language: lang,
            }),
            _ => Err(errors),
        }
    }
}

impl crate::service::Accounts {
    /// Saves a parsed profile; every field is replaced at once.
    pub async fn update_profile(
        &self,
        account_id: i32,
        p: &Profile,
    ) -> Result<crate::service::Account, crate::error::AccountError> {
        use crate::entity::account;
        use sea_orm::{ActiveModelTrait, Set};
        let Some(a) = self.find_by_id(account_id).await? else {
            return Err(crate::error::AccountError::NotFound);
        };
        let mut row: account::ActiveModel = a.into();
        row.first_name = Set(p.first_name.clone());
        row.last_name = Set(p.last_name.clone());
        row.kind = Set(if p.company_name.is_some() {
            "company".into()
        } else {
            "individual".into()
        });
        row.company_name = Set(p.company_name.clone());
        let addr = p.address.as_ref();
        row.address_line1 = Set(addr.map(|a| a.line1.clone()));
        row.address_line2 = Set(addr.and_then(|a| a.line2.clone()));
        row.postcode = Set(addr.map(|a| a.postcode.clone()));
        row.city = Set(addr.map(|a| a.city.clone()));
        row.region = Set(addr.and_then(|a| a.region.clone()));
        row.phone = Set(p.phone.as_ref().map(|n| n.as_str().to_owned()));
        row.country = Set(p.country.clone());
        row.language = Set(p.language.as_str().to_owned());
        row.updated_at = Set(self.now());
        Ok(row.update(&self.db).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> ProfileInput {
        ProfileInput {
            first_name: "Dominique".into(),
            last_name: "Martin".into(),
            kind: "individual".into(),
            country: "fr".into(),
            language: "fr".into(),
            ..ProfileInput::default()
        }
    }

    #[test]
    fn a_minimal_profile_parses() {
        let p = Profile::parse(&good()).unwrap();
        assert_eq!(p.country, "FR");
        assert_eq!(p.address, None);
        assert_eq!(p.phone, None);
        assert_eq!(p.company_name, None);
    }

    #[test]
    fn phones_are_e164() {
        assert_eq!(
            PhoneNumber::parse("+33 6 12-34.56 78").unwrap().as_str(),
            "+33612345678"
        );
        assert_eq!(
            PhoneNumber::parse("0612345678"),
            Err(FieldProblem::InvalidPhone)
        );
        assert_eq!(
            PhoneNumber::parse("+0612345678"),
            Err(FieldProblem::InvalidPhone)
        );
        assert_eq!(
            PhoneNumber::parse("+1234567"),
            Err(FieldProblem::InvalidPhone)
        );
        assert_eq!(
            PhoneNumber::parse("+1234567890123456"),
            Err(FieldProblem::InvalidPhone)
        );
        assert_eq!(
            PhoneNumber::parse("+33 6x"),
            Err(FieldProblem::InvalidPhone)
        );
    }

    #[test]
    fn every_wrong_field_is_reported_at_once() {
        let i = ProfileInput {
            first_name: String::new(),
            kind: "company".into(),
            city: "Lyon".into(),
            phone: "12".into(),
            country: "ZZ".into(),
            language: "de".into(),
            ..good()
        };
        let fields: Vec<_> = Profile::parse(&i)
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(
            fields,
            [
                "first_name",
                "company_name",
                "address_line1",
                "postcode",
                "phone",
                "country",
                "language"
            ]
        );
    }

    #[test]
    fn a_full_address_parses() {
        let i = ProfileInput {
            address_line1: "2 rue Kellermann".into(),
            postcode: "59100".into(),
            city: "Roubaix".into(),
            ..good()
        };
        let a = Profile::parse(&i).unwrap().address.unwrap();
        assert_eq!(a.city, "Roubaix");
        assert_eq!(a.line2, None);
    }
}
