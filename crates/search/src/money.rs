//! Salaries compared across currencies and pay periods: every amount is brought to one
//! currency per year with exchange rates from configuration.

use std::collections::BTreeMap;

use domain::SalaryPeriod;

/// Working time a year, for turning hourly, daily and weekly pay into yearly pay.
const HOURS_PER_YEAR: f64 = 2080.0;
const DAYS_PER_YEAR: f64 = 260.0;
const WEEKS_PER_YEAR: f64 = 52.0;
const MONTHS_PER_YEAR: f64 = 12.0;

/// Units of a currency per one US dollar would invert easily; rates are kept as "value of one
/// unit in US dollars" so a missing rate is simply absent.
#[derive(Debug, Clone, PartialEq)]
pub struct Rates {
    usd_per_unit: BTreeMap<String, f64>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("currency rates: {0}")]
pub struct RatesError(String);

impl Default for Rates {
    /// Approximate rates, good enough to compare postings; operators who need exact figures set
    /// `JOBPILOT_CURRENCY_RATES`.
    fn default() -> Self {
        Self::parse(DEFAULT_RATES).unwrap_or(Self {
            usd_per_unit: BTreeMap::from([("USD".to_owned(), 1.0)]),
        })
    }
}

/// US dollars per unit, late 2026.
const DEFAULT_RATES: &str = "USD=1,EUR=1.08,GBP=1.27,CHF=1.13,CAD=0.72,AUD=0.65,NZD=0.60,\
    JPY=0.0067,CNY=0.14,INR=0.012,SGD=0.74,HKD=0.128,SEK=0.095,NOK=0.093,DKK=0.145,PLN=0.25,\
    CZK=0.043,HUF=0.0027,RON=0.22,BGN=0.55,TRY=0.029,ILS=0.27,AED=0.272,SAR=0.267,ZAR=0.055,\
    BRL=0.18,MXN=0.055,ARS=0.001,CLP=0.00105,COP=0.00025,RUB=0.011,UAH=0.024,BYN=0.30,\
    KZT=0.0019,UZS=0.000079,GEL=0.37,AMD=0.0026,AZN=0.59,KGS=0.0115,TJS=0.092,MDL=0.056,\
    RSD=0.0092,KRW=0.00072,TWD=0.031,THB=0.028,MYR=0.22,IDR=0.000062,PHP=0.0175,VND=0.00004,\
    EGP=0.02,NGN=0.00065,KES=0.0077,PKR=0.0036,BDT=0.0083";

impl Rates {
    /// Parses `CODE=usd_per_unit` pairs separated by commas, e.g. `USD=1,EUR=1.08,RUB=0.011`.
    pub fn parse(spec: &str) -> Result<Self, RatesError> {
        let mut usd_per_unit = BTreeMap::new();
        for pair in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (code, rate) = pair
                .split_once('=')
                .ok_or_else(|| RatesError(format!("`{pair}` is not CODE=rate")))?;
            let code = domain::Currency::parse(code.trim())
                .map_err(|e| RatesError(format!("`{pair}`: {e}")))?;
            let rate: f64 = rate
                .trim()
                .parse()
                .map_err(|_| RatesError(format!("`{pair}`: the rate is not a number")))?;
            if !(rate.is_finite() && rate > 0.0) {
                return Err(RatesError(format!("`{pair}`: the rate must be positive")));
            }
            usd_per_unit.insert(code.as_str().to_owned(), rate);
        }
        if !usd_per_unit.contains_key("USD") {
            usd_per_unit.insert("USD".to_owned(), 1.0);
        }
        Ok(Self { usd_per_unit })
    }

    pub fn knows(&self, currency: &str) -> bool {
        self.usd_per_unit.contains_key(currency)
    }

    /// `amount` of `from` in `to`; `None` when either rate is unknown.
    pub fn convert(&self, amount: f64, from: &str, to: &str) -> Option<f64> {
        let from = self.usd_per_unit.get(from)?;
        let to = self.usd_per_unit.get(to)?;
        Some(amount * from / to)
    }

    /// Yearly pay in US dollars.
    pub fn usd_per_year(&self, amount: f64, currency: &str, period: SalaryPeriod) -> Option<f64> {
        self.convert(per_year(amount, period), currency, "USD")
    }
}

pub fn per_year(amount: f64, period: SalaryPeriod) -> f64 {
    amount
        * match period {
            SalaryPeriod::Hour => HOURS_PER_YEAR,
            SalaryPeriod::Day => DAYS_PER_YEAR,
            SalaryPeriod::Week => WEEKS_PER_YEAR,
            SalaryPeriod::Month => MONTHS_PER_YEAR,
            SalaryPeriod::Year => 1.0,
        }
}

/// The inverse of [`per_year`].
pub fn from_year(amount: f64, period: SalaryPeriod) -> f64 {
    amount / per_year(1.0, period)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_convert_between_currencies_and_periods() {
        let rates = Rates::parse("EUR=1.1, RUB=0.01").unwrap();
        assert_eq!(rates.convert(100.0, "RUB", "USD"), Some(1.0));
        let eur = rates.convert(110.0, "USD", "EUR").unwrap();
        assert!((eur - 100.0).abs() < 1e-9);
        assert_eq!(
            rates.usd_per_year(100_000.0, "RUB", SalaryPeriod::Month),
            Some(12_000.0)
        );
        assert_eq!(rates.convert(1.0, "JPY", "USD"), None);
        assert_eq!(
            from_year(per_year(50.0, SalaryPeriod::Hour), SalaryPeriod::Hour),
            50.0
        );
    }

    #[test]
    fn bad_rate_lists_are_refused_with_the_culprit_named() {
        for bad in ["EUR", "EUR=x", "EUR=-1", "EURO=1", "EUR=inf"] {
            let err = Rates::parse(bad).unwrap_err();
            assert!(
                err.to_string().contains(bad.split('=').next().unwrap()),
                "{err}"
            );
        }
        assert!(Rates::default().knows("RUB"));
    }
}
