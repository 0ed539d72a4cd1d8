//! The fixed set of skill categories. A closed enum rather than free text so that a typo in the
//! data fails the parse instead of inventing a category nobody filters on.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

macro_rules! categories {
    ($($variant:ident => $name:literal, technical: $technical:literal;)*) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum Category {
            $($variant,)*
        }

        impl Category {
            pub const ALL: &'static [Category] = &[$(Category::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Category::$variant => $name,)*
                }
            }

            /// Whether a mention proves the text is about software or IT work, which is the
            /// evidence ambiguous words like "Go" need before they count as skills.
            pub fn is_technical(self) -> bool {
                match self {
                    $(Category::$variant => $technical,)*
                }
            }
        }

        impl FromStr for Category {
            type Err = String;

            fn from_str(name: &str) -> Result<Self, Self::Err> {
                match name {
                    $($name => Ok(Category::$variant),)*
                    other => Err(other.to_owned()),
                }
            }
        }
    };
}

categories! {
    Language => "language", technical: true;
    Framework => "framework", technical: true;
    Library => "library", technical: true;
    Database => "database", technical: true;
    Cloud => "cloud", technical: true;
    Devops => "devops", technical: true;
    Data => "data", technical: true;
    Ml => "ml", technical: true;
    Testing => "testing", technical: true;
    Security => "security", technical: true;
    Mobile => "mobile", technical: true;
    Frontend => "frontend", technical: true;
    Os => "os", technical: true;
    Networking => "networking", technical: true;
    Embedded => "embedded", technical: true;
    Gamedev => "gamedev", technical: true;
    Blockchain => "blockchain", technical: true;
    Tool => "tool", technical: true;
    Analytics => "analytics", technical: false;
    Design => "design", technical: false;
    Methodology => "methodology", technical: false;
    Hardware => "hardware", technical: false;
    Erp => "erp", technical: false;
    Crm => "crm", technical: false;
    Cms => "cms", technical: false;
    Office => "office", technical: false;
    Soft => "soft", technical: false;
    Management => "management", technical: false;
    Business => "business", technical: false;
    Sales => "sales", technical: false;
    Marketing => "marketing", technical: false;
    Finance => "finance", technical: false;
    Legal => "legal", technical: false;
    Hr => "hr", technical: false;
    Logistics => "logistics", technical: false;
    Medicine => "medicine", technical: false;
    Education => "education", technical: false;
    Engineering => "engineering", technical: false;
    Construction => "construction", technical: false;
    Manufacturing => "manufacturing", technical: false;
    Hospitality => "hospitality", technical: false;
    Media => "media", technical: false;
    HumanLanguage => "human_language", technical: false;
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
