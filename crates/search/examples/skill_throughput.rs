//! Skill extraction throughput on one core, for `bench/skills/run`.
//!
//! ```sh
//! cargo run --release -p search --example skill_throughput [-- FILE] [--runs N] [--mb N]
//! ```
//!
//! Without a file it builds a mixed English/Russian corpus (about `--mb` MB, default 20) from
//! job-description paragraphs varied in code, so the figure does not depend on a data file.

use std::time::Instant;

use search::skills::SkillExtractor;

const PARAGRAPHS: &[&str] = &[
    "We are looking for a Senior Backend Engineer to join our payments team. You will design and \
     build services in Go and Python, run them on Kubernetes (k8s) in AWS, and own PostgreSQL and \
     Redis schemas. Experience with Kafka, gRPC and Terraform is a plus. 5+ years of experience.",
    "Требуется Middle Frontend-разработчик. Стек: TypeScript, React, Redux Toolkit, Next.js, \
     Webpack, Jest. Опыт работы от 3 лет, знание HTML/CSS, адаптивная верстка, Figma. Будет \
     плюсом: Node.js, GraphQL, Docker, CI/CD в GitLab.",
    "Our data team uses Apache Spark, Airflow and dbt on Snowflake; dashboards live in Tableau and \
     Power BI. You know SQL inside out, write clean Python with pandas and scikit-learn, and can \
     explain A/B testing results to product managers. R, SQL, Python are all welcome.",
    "Главный бухгалтер: ведение бухгалтерского учета, налоговый учет, 1С:Бухгалтерия, МСФО, \
     подготовка отчетности, работа с банками. Уверенный пользователь Excel. Опыт работы более \
     5 лет, стрессоустойчивость, внимательность, английский язык на уровне B2.",
    "Warehouse operative wanted: forklift license, order picking, shipping and receiving, basic \
     computer skills. Ready to go the extra mile? Our R&D and C-level teams are hiring too, \
     and we will train you on SAP EWM and barcode scanning. No experience required.",
    "Medical representative (фармацевтические продажи): переговоры, B2B продажи, CRM, холодные \
     звонки, презентация продукта врачам. Водительские права категории B, опыт работы от 1 года \
     до 3 лет. Знание Microsoft Office, Word, Excel, PowerPoint.",
];

/// Words swapped in round-robin so that no two paragraphs of the corpus are identical.
const VARIANTS: &[&str] = &[
    "Java",
    "Rust",
    "C#",
    ".NET",
    "Vue.js",
    "Angular",
    "MongoDB",
    "ClickHouse",
    "Ansible",
    "Jenkins",
    "GitHub Actions",
    "Grafana",
    "Prometheus",
    "Linux",
    "Nginx",
    "RabbitMQ",
    "Elasticsearch",
    "Swift",
    "Kotlin",
    "Flutter",
    "Django",
    "FastAPI",
    "Spring Boot",
    "Laravel",
    "маркетинг",
    "логистика",
    "закупки",
    "управление проектами",
    "Scrum",
    "Jira",
    "Confluence",
];

fn corpus(megabytes: usize) -> String {
    let target = megabytes * 1_000_000;
    let mut text = String::with_capacity(target + 4096);
    let mut i = 0usize;
    while text.len() < target {
        text.push_str(PARAGRAPHS[i % PARAGRAPHS.len()]);
        text.push_str(" Also: ");
        text.push_str(VARIANTS[i % VARIANTS.len()]);
        text.push_str(", ");
        text.push_str(VARIANTS[(i * 7 + 3) % VARIANTS.len()]);
        text.push_str(if i.is_multiple_of(3) { ".\n\n" } else { ". " });
        i += 1;
    }
    text
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (mut file, mut runs, mut megabytes) = (None, 5usize, 20usize);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--runs" => runs = args.next().ok_or("--runs needs a number")?.parse()?,
            "--mb" => megabytes = args.next().ok_or("--mb needs a number")?.parse()?,
            _ => file = Some(arg),
        }
    }
    let text = match &file {
        Some(path) => std::fs::read_to_string(path)?,
        None => corpus(megabytes),
    };
    let started = Instant::now();
    let extractor = SkillExtractor::builtin();
    let warm = extractor.extract(&text[..text.len().min(1_000)]).len();
    println!(
        "corpus: {:.1} MB ({}); matcher built in {:.2?} ({warm} skills in warm-up)",
        text.len() as f64 / 1e6,
        file.as_deref().unwrap_or("generated"),
        started.elapsed()
    );
    let mut rates = Vec::with_capacity(runs);
    for run in 1..=runs.max(1) {
        let started = Instant::now();
        let hits = extractor.extract(&text);
        let seconds = started.elapsed().as_secs_f64();
        let mentions: u64 = hits.iter().map(|h| u64::from(h.count)).sum();
        let rate = text.len() as f64 / 1e6 / seconds;
        println!(
            "run {run}: {rate:.1} MB/s ({seconds:.3} s, {} skills, {mentions} mentions)",
            hits.len()
        );
        rates.push(rate);
    }
    rates.sort_by(f64::total_cmp);
    println!("median: {:.1} MB/s", rates[rates.len() / 2]);
    Ok(())
}
