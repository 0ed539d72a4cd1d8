#!/usr/bin/env python3
"""Synthetic job postings for the ingestion benchmark (bench/jobs/run), as JSON Lines.

    python3 bench/jobs/generate.py [--count 1000000] [--seed 42] [--out FILE] [--jobs 1]
    python3 bench/jobs/generate.py --self-check [--count 2000]

Each line is one normalised posting (the `NewJob` object of crates/domain/src/job.rs, without
`description_text`, which the server derives): board-shaped ids and URLs for hh, adzuna,
remoteok, greenhouse, lever, arbeitnow and two scrapers (jobspy, habr_career); English, Russian
(about 20 %, most of hh) and German (some arbeitnow) descriptions of 1-4 KB that mention 5-15
skills, often by an alias (k8s, Postgres, JS, Golang); about 12,000 companies; salaries for about
60 % of postings, in the currency and period the region pays in. About 5 % of postings are
near-duplicates of an earlier one: same company and title on another board, one sentence
reworded, other markup or location strings, which the server's cross-source deduplication should
catch. Output is deterministic for a given --seed: postings come in chunks of 5,000 that depend
only on the seed and the chunk's number, so --jobs N processes write the same bytes as one, and a
smaller --count gives a prefix of a larger one. About 11,000 postings a second per process.
Standard library only.

--self-check generates 2,000 postings in memory (or --count), checks every invariant (fields,
types, enums, salary bounds, unique (source, external_id), sizes, skill mentions, dates) and that
the planted duplicates are what the server calls duplicates (its dedupe key and SimHash, re-done
here), and exits 1 on any failure.
"""

import argparse
import gc
import os
from bisect import bisect_right
import json
import random
import re
import sys
import time
from collections import Counter, defaultdict

# The window postings are published in: the 60 days up to the end of 2026-11-20 (UTC).
WINDOW_END = 1795219199  # 2026-11-20T23:59:59Z
WINDOW_START = WINDOW_END - 60 * 86400 + 1

SOURCES = ("hh", "adzuna", "remoteok", "greenhouse", "lever", "arbeitnow", "jobspy", "habr_career")
REMOTE = ("yes", "no", "hybrid")
EMPLOYMENT = ("full_time", "part_time", "contract", "temporary", "internship", "volunteer", "other")
SENIORITY = ("intern", "junior", "middle", "senior", "lead", "principal", "executive")
PERIODS = ("hour", "month", "year")

# --------------------------------------------------------------------------------------------
# Skills: (category, canonical name, aliases). Descriptions use an alias about a third of the time.
# --------------------------------------------------------------------------------------------
SKILL_TABLE = """
lang|Rust|
lang|Go|Golang
lang|Python|Python 3
lang|Java|Java 17,Java 21
lang|Kotlin|
lang|Scala|
lang|C|ANSI C
lang|C++|cpp,C++17,C++20
lang|C#|csharp
lang|TypeScript|TS
lang|JavaScript|JS,ECMAScript
lang|PHP|PHP 8
lang|Ruby|
lang|Elixir|
lang|Erlang|Erlang/OTP
lang|Haskell|
lang|OCaml|
lang|F#|
lang|Clojure|
lang|Swift|
lang|Objective-C|ObjC
lang|Dart|
lang|Lua|
lang|Perl|
lang|R|
lang|Julia|
lang|MATLAB|
lang|Zig|
lang|Bash|shell scripting
lang|PowerShell|
lang|Groovy|
lang|Solidity|
lang|Fortran|
lang|COBOL|
lang|VB.NET|Visual Basic .NET
lang|Assembly|asm
backend|Spring Boot|Spring
backend|Django|Django REST Framework
backend|Flask|
backend|FastAPI|
backend|Ruby on Rails|Rails,RoR
backend|Laravel|
backend|Symfony|
backend|Express.js|Express
backend|NestJS|
backend|Node.js|NodeJS,Node
backend|ASP.NET Core|ASP.NET
backend|.NET|dotnet,.NET 8
backend|Entity Framework Core|EF Core
backend|Hibernate|JPA/Hibernate
backend|Quarkus|
backend|Micronaut|
backend|Ktor|
backend|Actix Web|actix-web
backend|Axum|
backend|Tokio|
backend|Gin|gin-gonic
backend|Phoenix|
backend|gRPC|
backend|GraphQL|
backend|REST APIs|RESTful APIs,REST API
backend|OpenAPI|Swagger
backend|Celery|
backend|SQLAlchemy|
backend|asyncio|
backend|Akka|
backend|Play Framework|
backend|Vert.x|
backend|Yii2|Yii
backend|Drupal|
backend|WordPress|
backend|Magento|
backend|Strapi|
backend|Deno|
backend|tRPC|
backend|Protocol Buffers|Protobuf
backend|WebSockets|WebSocket
backend|OAuth 2.0|OAuth2
backend|OpenID Connect|OIDC
backend|JWT|
backend|Microservices|microservice architecture
backend|Domain-Driven Design|DDD
backend|Event Sourcing|
backend|CQRS|
backend|Sidekiq|
backend|Hangfire|
frontend|React|React.js,ReactJS
frontend|Vue.js|Vue,VueJS,Vue 3
frontend|Angular|
frontend|Svelte|
frontend|SvelteKit|
frontend|Next.js|NextJS
frontend|Nuxt|Nuxt.js
frontend|Redux|Redux Toolkit
frontend|MobX|
frontend|RxJS|
frontend|jQuery|
frontend|HTML5|HTML
frontend|CSS3|CSS
frontend|Sass|SCSS
frontend|Tailwind CSS|Tailwind
frontend|Bootstrap|
frontend|Material UI|MUI
frontend|Webpack|
frontend|Vite|
frontend|Babel|
frontend|ESLint|
frontend|Storybook|
frontend|Three.js|
frontend|D3.js|D3
frontend|WebGL|
frontend|WebAssembly|Wasm
frontend|Web Components|
frontend|Zustand|
frontend|TanStack Query|React Query
frontend|Remix|
frontend|Astro|
frontend|Ember.js|
frontend|Gatsby|
frontend|styled-components|
frontend|Pinia|
frontend|Vuex|
frontend|Lit|
mobile|Android SDK|Android
mobile|iOS SDK|iOS
mobile|SwiftUI|
mobile|UIKit|
mobile|Jetpack Compose|
mobile|Flutter|
mobile|React Native|RN
mobile|Xamarin|
mobile|.NET MAUI|MAUI
mobile|Kotlin Multiplatform|KMP
mobile|Core Data|
mobile|Retrofit|
mobile|RxSwift|
mobile|RxJava|
mobile|Firebase|
mobile|Dagger 2|Dagger
mobile|Hilt|
mobile|CocoaPods|
mobile|Fastlane|
mobile|Xcode|
mobile|Kotlin Coroutines|coroutines
mobile|Swift Concurrency|async/await in Swift
db|PostgreSQL|Postgres,PG
db|MySQL|
db|MariaDB|
db|SQLite|
db|Oracle Database|Oracle DB
db|Microsoft SQL Server|MS SQL,MSSQL
db|MongoDB|Mongo
db|Redis|
db|Apache Cassandra|Cassandra
db|ScyllaDB|
db|ClickHouse|
db|Elasticsearch|Elastic
db|OpenSearch|
db|DynamoDB|
db|CockroachDB|
db|Neo4j|
db|InfluxDB|
db|TimescaleDB|
db|Couchbase|
db|Memcached|
db|Tarantool|
db|Greenplum|
db|Snowflake|
db|BigQuery|
db|Amazon Redshift|Redshift
db|Vertica|
db|SQL|
db|PL/SQL|
db|T-SQL|
db|PL/pgSQL|
db|Firestore|
db|Supabase|
db|etcd|
db|pgvector|
db|Milvus|
db|Qdrant|
db|Weaviate|
db|FoundationDB|
cloud|AWS|Amazon Web Services
cloud|Google Cloud|GCP,Google Cloud Platform
cloud|Microsoft Azure|Azure
cloud|Yandex Cloud|
cloud|VK Cloud|
cloud|DigitalOcean|
cloud|Hetzner Cloud|Hetzner
cloud|Heroku|
cloud|Cloudflare Workers|Cloudflare
cloud|AWS Lambda|Lambda
cloud|Amazon S3|S3
cloud|Amazon EC2|EC2
cloud|Amazon ECS|ECS
cloud|Amazon EKS|EKS
cloud|Google Kubernetes Engine|GKE
cloud|Azure Kubernetes Service|AKS
cloud|AWS CloudFormation|CloudFormation
cloud|AWS CDK|CDK
cloud|Serverless Framework|serverless
cloud|Vercel|
cloud|Netlify|
cloud|OpenStack|
cloud|VMware vSphere|VMware
cloud|Proxmox|
cloud|Google Cloud Run|Cloud Run
cloud|Azure Functions|
devops|Docker|
devops|Kubernetes|k8s,K8s
devops|Helm|Helm charts
devops|Terraform|
devops|Ansible|
devops|Puppet|
devops|Pulumi|
devops|Jenkins|
devops|GitLab CI|GitLab CI/CD
devops|GitHub Actions|GH Actions
devops|CircleCI|
devops|TeamCity|
devops|Argo CD|ArgoCD
devops|FluxCD|Flux CD
devops|Prometheus|
devops|Grafana|
devops|Grafana Loki|Loki
devops|Jaeger|
devops|OpenTelemetry|OTel
devops|Zabbix|
devops|Nagios|
devops|Datadog|
devops|New Relic|
devops|Sentry|
devops|ELK Stack|ELK
devops|Fluentd|Fluent Bit
devops|Logstash|
devops|Kibana|
devops|Nginx|nginx
devops|HAProxy|
devops|Envoy|
devops|Istio|
devops|Linkerd|
devops|HashiCorp Consul|Consul
devops|HashiCorp Vault|Vault
devops|Nomad|
devops|Packer|
devops|Vagrant|
devops|Podman|
devops|containerd|
devops|Linux|GNU/Linux
devops|Ubuntu|
devops|Debian|
devops|RHEL|Red Hat Enterprise Linux
devops|systemd|
devops|Git|
devops|Bitbucket|
devops|Jira|
devops|Confluence|
devops|CI/CD|
devops|RabbitMQ|
devops|NATS|
devops|ActiveMQ|
devops|Apache Pulsar|Pulsar
devops|ZeroMQ|
devops|Keycloak|
devops|Traefik|
devops|Bazel|
devops|Gradle|
devops|Maven|
devops|CMake|
devops|Nix|NixOS
data|Apache Kafka|Kafka
data|Apache Spark|Spark,PySpark
data|Hadoop|HDFS
data|Apache Hive|Hive
data|Apache Flink|Flink
data|Apache Airflow|Airflow
data|dbt|
data|pandas|Pandas
data|NumPy|
data|Polars|
data|Dask|
data|Apache Beam|
data|Trino|Presto
data|Apache Iceberg|Iceberg
data|Delta Lake|
data|Databricks|
data|Tableau|
data|Power BI|PowerBI
data|Looker|
data|Metabase|
data|Apache Superset|Superset
data|ETL|ELT
data|DWH|data warehouse
data|Kafka Streams|
data|Debezium|
data|Apache NiFi|NiFi
data|Informatica|
data|Talend|
data|SSIS|
data|Jupyter|
data|Apache Parquet|Parquet
data|DuckDB|
ml|Machine Learning|ML
ml|Deep Learning|
ml|PyTorch|
ml|TensorFlow|
ml|Keras|
ml|scikit-learn|sklearn
ml|XGBoost|
ml|LightGBM|
ml|CatBoost|
ml|Hugging Face Transformers|Hugging Face
ml|LLM|large language models
ml|LangChain|
ml|NLP|natural language processing
ml|Computer Vision|
ml|OpenCV|
ml|MLflow|
ml|Kubeflow|
ml|ONNX|
ml|CUDA|
ml|RAG|retrieval-augmented generation
ml|Reinforcement Learning|
ml|A/B testing|A/B tests
ml|spaCy|
ml|Recommender Systems|recsys
ml|Statistics|mathematical statistics
ml|Time Series Forecasting|
testing|Selenium|Selenium WebDriver
testing|Playwright|
testing|Cypress|
testing|Jest|
testing|Vitest|
testing|Mocha|
testing|pytest|
testing|JUnit|JUnit 5
testing|TestNG|
testing|Mockito|
testing|Postman|
testing|Apache JMeter|JMeter
testing|k6|
testing|Gatling|
testing|Allure|Allure TestOps
testing|Appium|
testing|Cucumber|Gherkin
testing|TestRail|
testing|Locust|
testing|Testcontainers|
security|OWASP Top 10|OWASP
security|Penetration Testing|pentest
security|SIEM|
security|Burp Suite|
security|Wireshark|
security|IAM|
security|Zero Trust|
security|ISO 27001|
security|SOC 2|
security|PKI|
security|TLS|SSL/TLS
security|Snyk|
security|SAST|
security|DAST|
security|Threat Modeling|
security|Suricata|
embedded|Embedded C|
embedded|FreeRTOS|RTOS
embedded|Zephyr RTOS|Zephyr
embedded|STM32|
embedded|ARM Cortex-M|Cortex-M
embedded|Yocto Project|Yocto
embedded|Embedded Linux|
embedded|FPGA|
embedded|Verilog|SystemVerilog
embedded|VHDL|
embedded|CAN bus|CAN
embedded|Modbus|
embedded|MQTT|
embedded|ROS 2|ROS
embedded|AUTOSAR|
embedded|Bluetooth Low Energy|BLE
embedded|LoRaWAN|
embedded|Buildroot|
gamedev|Unity|Unity3D
gamedev|Unreal Engine|UE5,Unreal Engine 5
gamedev|Godot|
gamedev|DirectX|DirectX 12
gamedev|Vulkan|
gamedev|OpenGL|
gamedev|HLSL|
gamedev|Photon Engine|Photon
erp|1С:Предприятие|1С,1C
erp|SAP|SAP S/4HANA
erp|SAP ABAP|ABAP
erp|Salesforce|
erp|ServiceNow|
erp|Microsoft Dynamics 365|Dynamics 365
erp|1С-Битрикс|Битрикс24,Bitrix
erp|Odoo|
practice|Agile|
practice|Scrum|
practice|Kanban|
practice|TDD|test-driven development
practice|Clean Architecture|
practice|SOLID|
practice|Design Patterns|
practice|System Design|
practice|Code Review|code reviews
practice|DevSecOps|
practice|MLOps|
practice|GitOps|
practice|UML|
practice|BPMN|BPMN 2.0
practice|Figma|
practice|Amplitude|
practice|Google Analytics|GA4
practice|Ethereum|
practice|Web3|
"""


def _parse_skills():
    skills = []
    for line in SKILL_TABLE.strip().splitlines():
        category, name, aliases = line.split("|")
        skills.append((category, name, tuple(a for a in aliases.split(",") if a)))
    return skills


SKILLS = _parse_skills()
SKILLS_BY_CATEGORY = defaultdict(list)
for _i, (_cat, _name, _aliases) in enumerate(SKILLS):
    SKILLS_BY_CATEGORY[_cat].append(_i)
SKILL_INDEX = {name: i for i, (_, name, _) in enumerate(SKILLS)}


def _skill_matcher():
    """A regex finding skill names and aliases (longest first), and the skill index of each form."""
    if _MATCHER:
        return _MATCHER
    forms = {}
    for i, (_, name, aliases) in enumerate(SKILLS):
        for f in (name,) + aliases:
            forms[f] = i
    ordered = sorted(forms, key=len, reverse=True)
    pattern = re.compile(r"(?<![\w+#.\-/])(" + "|".join(re.escape(f) for f in ordered) + r")(?![\w+#]|-[a-zA-Z])")
    _MATCHER.extend((pattern, forms))
    return pattern, forms


_MATCHER = []



# --------------------------------------------------------------------------------------------
# Roles: title words per language, the skill the title names, and where other skills come from.
# --------------------------------------------------------------------------------------------
ROLES = {
    "backend": dict(
        tech=["Rust", "Go", "Python", "Java", "Kotlin", "Scala", "C#", "PHP", "Ruby", "Node.js",
              "Elixir", "C++", "TypeScript", ".NET"],
        en=["Backend Engineer", "Backend Developer", "Software Engineer", "Server-Side Developer"],
        ru=["разработчик", "backend-разработчик", "программист", "инженер-программист"],
        de=["Backend-Entwickler", "Softwareentwickler", "Software Engineer"],
        cats={"backend": 4, "db": 3, "devops": 2, "cloud": 1, "practice": 1, "lang": 1},
        group="eng"),
    "frontend": dict(
        tech=["React", "Vue.js", "Angular", "TypeScript", "JavaScript", "Svelte", "Next.js"],
        en=["Frontend Engineer", "Frontend Developer", "UI Engineer", "Web Developer"],
        ru=["frontend-разработчик", "разработчик интерфейсов", "веб-разработчик"],
        de=["Frontend-Entwickler", "Webentwickler", "Frontend Engineer"],
        cats={"frontend": 5, "testing": 1, "practice": 1, "backend": 1},
        group="eng"),
    "fullstack": dict(
        tech=["TypeScript", "Python", "Java", "PHP", "Ruby", "Node.js", "React", "C#"],
        en=["Full-Stack Engineer", "Full-Stack Developer", "Product Engineer"],
        ru=["fullstack-разработчик", "разработчик полного цикла"],
        de=["Fullstack-Entwickler", "Full-Stack Engineer"],
        cats={"backend": 3, "frontend": 3, "db": 2, "devops": 1},
        group="eng"),
    "mobile": dict(
        tech=["Swift", "Kotlin", "Flutter", "React Native", "iOS SDK", "Android SDK", "Dart"],
        en=["Mobile Engineer", "Mobile Developer", "App Developer"],
        ru=["мобильный разработчик", "разработчик мобильных приложений"],
        de=["App-Entwickler", "Mobile Developer"],
        cats={"mobile": 5, "testing": 1, "backend": 1, "practice": 1},
        group="eng"),
    "devops": dict(
        tech=["Kubernetes", "AWS", "Terraform", "Linux", "Google Cloud", "Microsoft Azure", "Ansible"],
        en=["DevOps Engineer", "Site Reliability Engineer", "Platform Engineer", "Cloud Engineer",
            "Infrastructure Engineer"],
        ru=["DevOps-инженер", "инженер DevOps", "SRE-инженер", "системный администратор",
            "инженер инфраструктуры"],
        de=["DevOps Engineer", "Cloud Engineer", "Systemadministrator", "Platform Engineer"],
        cats={"devops": 5, "cloud": 3, "db": 1, "lang": 1},
        group="ops"),
    "data_eng": dict(
        tech=["Apache Spark", "Python", "Scala", "Apache Kafka", "Apache Airflow", "SQL", "dbt"],
        en=["Data Engineer", "Analytics Engineer", "Big Data Engineer"],
        ru=["инженер данных", "data-инженер", "DWH-разработчик", "ETL-разработчик"],
        de=["Data Engineer", "Dateningenieur", "BI-Entwickler"],
        cats={"data": 5, "db": 3, "cloud": 1, "lang": 1},
        group="data"),
    "ml": dict(
        tech=["Python", "PyTorch", "NLP", "Computer Vision", "LLM", "Machine Learning"],
        en=["Machine Learning Engineer", "Data Scientist", "ML Engineer", "Applied Scientist",
            "Research Engineer"],
        ru=["ML-инженер", "Data Scientist", "специалист по машинному обучению", "исследователь"],
        de=["Data Scientist", "Machine Learning Engineer", "KI-Entwickler"],
        cats={"ml": 5, "data": 2, "lang": 1, "cloud": 1},
        group="data"),
    "qa": dict(
        tech=["Python", "Java", "JavaScript", "Playwright", "Selenium", "TypeScript"],
        en=["QA Engineer", "Test Automation Engineer", "SDET", "QA Analyst"],
        ru=["тестировщик", "QA-инженер", "инженер по автоматизации тестирования", "QA Automation"],
        de=["Softwaretester", "QA Engineer", "Testautomatisierer"],
        cats={"testing": 5, "lang": 1, "devops": 1, "practice": 1},
        group="qa"),
    "security": dict(
        tech=["AWS", "Linux", "Kubernetes", "Python", "SIEM"],
        en=["Security Engineer", "Application Security Engineer", "Cloud Security Engineer",
            "SOC Analyst"],
        ru=["специалист по информационной безопасности", "инженер по безопасности", "AppSec-инженер"],
        de=["IT-Security Engineer", "Informationssicherheitsbeauftragter", "Security Analyst"],
        cats={"security": 5, "devops": 2, "cloud": 1, "lang": 1},
        group="ops"),
    "embedded": dict(
        tech=["C", "C++", "Rust", "Embedded Linux", "STM32"],
        en=["Embedded Software Engineer", "Firmware Engineer", "Embedded Developer"],
        ru=["embedded-разработчик", "программист микроконтроллеров", "инженер-программист встраиваемых систем"],
        de=["Embedded-Softwareentwickler", "Firmware-Entwickler", "Embedded Engineer"],
        cats={"embedded": 5, "lang": 2, "devops": 1},
        group="eng"),
    "gamedev": dict(
        tech=["Unity", "Unreal Engine", "C++", "C#"],
        en=["Game Developer", "Gameplay Programmer", "Engine Programmer", "Graphics Programmer"],
        ru=["разработчик игр", "программист геймплея", "программист графики"],
        de=["Spieleentwickler", "Gameplay Programmer"],
        cats={"gamedev": 4, "lang": 2, "practice": 1, "devops": 1},
        group="eng"),
    "analyst": dict(
        tech=["SQL", "Power BI", "Tableau", "Python", "BPMN"],
        en=["Data Analyst", "BI Analyst", "Business Analyst", "Product Analyst", "Systems Analyst"],
        ru=["аналитик данных", "системный аналитик", "бизнес-аналитик", "продуктовый аналитик",
            "BI-аналитик"],
        de=["Datenanalyst", "Business Analyst", "BI-Analyst"],
        cats={"data": 3, "db": 2, "practice": 2, "ml": 1},
        group="analyst"),
    "erp": dict(
        tech=["1С:Предприятие", "SAP ABAP", "Salesforce", "1С-Битрикс", "SAP"],
        en=["ERP Developer", "SAP Consultant", "Salesforce Developer", "CRM Developer"],
        ru=["программист", "разработчик", "консультант"],
        de=["SAP-Berater", "ERP-Entwickler", "SAP ABAP Entwickler"],
        cats={"erp": 3, "db": 2, "backend": 1, "practice": 1},
        group="analyst"),
    "manager": dict(
        tech=["Go", "Java", "Python", "TypeScript", "Kubernetes"],
        en=["Engineering Manager", "Software Architect", "Solutions Architect", "Tech Lead"],
        ru=["руководитель группы разработки", "архитектор", "технический директор", "тимлид"],
        de=["Teamleiter Softwareentwicklung", "Softwarearchitekt", "Head of Engineering"],
        cats={"practice": 3, "backend": 2, "cloud": 2, "devops": 1, "db": 1},
        group="eng"),
}
ROLE_WEIGHTS = {
    "en": {"backend": 24, "frontend": 14, "fullstack": 10, "mobile": 7, "devops": 9, "data_eng": 6,
           "ml": 6, "qa": 6, "security": 3, "embedded": 3, "gamedev": 2, "analyst": 5, "erp": 2,
           "manager": 3},
    "ru": {"backend": 22, "frontend": 11, "fullstack": 5, "mobile": 6, "devops": 8, "data_eng": 5,
           "ml": 5, "qa": 8, "security": 3, "embedded": 3, "gamedev": 2, "analyst": 10, "erp": 9,
           "manager": 3},
    "de": {"backend": 24, "frontend": 12, "fullstack": 10, "mobile": 5, "devops": 9, "data_eng": 6,
           "ml": 5, "qa": 5, "security": 4, "embedded": 6, "gamedev": 1, "analyst": 6, "erp": 5,
           "manager": 2},
}

# (English word, seniority the board may state, Russian word, German word); "" = no level word.
LEVELS = [
    ("", None, "", "", 30),
    ("Junior", "junior", "Младший", "Junior", 8),
    ("Mid-Level", "middle", "Middle", "", 6),
    ("Senior", "senior", "Старший", "Senior", 28),
    ("Senior", "senior", "Senior", "Senior", 0),
    ("Staff", "principal", "Ведущий", "Lead", 6),
    ("Lead", "lead", "Ведущий", "Lead", 8),
    ("Principal", "principal", "Главный", "Principal", 3),
    ("Intern", "intern", "Стажёр", "Werkstudent", 2),
    ("Head of", "executive", "Руководитель направления", "Head of", 1),
]
TEAMS_EN = ["Payments", "Search", "Platform", "Growth", "Checkout", "Data Platform", "Core Infrastructure",
            "Identity", "Billing", "Mobile Banking", "Logistics", "Risk", "Fraud Prevention", "Onboarding",
            "Marketplace", "Pricing", "Developer Experience", "Observability", "Notifications", "Catalog",
            "Recommendations", "Ads", "Maps", "Customer Support Tools", "Internal Tools", "Trading",
            "Lending", "Compliance", "Content", "Messaging"]
TEAMS_RU = ["платежей", "поиска", "платформы", "роста", "оформления заказа", "платформы данных",
            "инфраструктуры", "биллинга", "мобильного банка", "логистики", "антифрода", "маркетплейса",
            "ценообразования", "внутренних сервисов", "рекомендаций", "рекламы", "карт", "кредитования",
            "уведомлений", "каталога", "личного кабинета", "склада", "доставки", "CRM"]
TEAMS_DE = ["Payments", "Suche", "Plattform", "Checkout", "Datenplattform", "Infrastruktur", "Abrechnung",
            "Logistik", "Risikomanagement", "Onboarding", "Marktplatz", "Preisgestaltung", "Interne Tools",
            "Kundenportal", "Produktion", "Fahrzeugsoftware", "Lagerverwaltung"]


def _slug(text):
    text = text.lower()
    for a, b in (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("ß", "ss"), ("é", "e"), ("+", "p"), ("#", "sharp")):
        text = text.replace(a, b)
    text = _translit(text)
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-") or "job"


_CYR = dict(zip("абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
                ["a", "b", "v", "g", "d", "e", "e", "zh", "z", "i", "y", "k", "l", "m", "n", "o", "p",
                 "r", "s", "t", "u", "f", "kh", "ts", "ch", "sh", "shch", "", "y", "", "e", "yu", "ya"]))


def _translit(text):
    return "".join(_CYR.get(c, c) for c in text.lower())


# How titles name a technology (an alias of the skill, so it still counts as a mention).
TITLE_TECH = {"iOS SDK": "iOS", "Android SDK": "Android", "1С:Предприятие": "1С", "1С-Битрикс": "Битрикс",
              "Google Cloud": "GCP", "Microsoft Azure": "Azure", "Apache Spark": "Spark", "Apache Kafka": "Kafka",
              "Apache Airflow": "Airflow", "Machine Learning": "ML"}


def _build_titles():
    """Per (language, role): list of (title, seniority or None, skill index of the named tech, slug)."""
    pools = {}
    for role, spec in ROLES.items():
        techs = spec["tech"]
        en, ru, de = [], [], []
        for word_en, level, word_ru, word_de, weight in LEVELS:
            reps = max(1, weight // 6) if weight else 0
            for _ in range(reps):
                for tech in techs:
                    ti = SKILL_INDEX[tech]
                    short = TITLE_TECH.get(tech, tech)
                    for noun in spec["en"]:
                        if word_en == "Head of":
                            en.append((f"Head of Engineering, {TEAMS_EN[len(en) % len(TEAMS_EN)]} ({short})", level, ti))
                            continue
                        if word_en == "Intern":
                            en.append((f"{noun} Intern ({short})", level, ti))
                            continue
                        pre = word_en + " " if word_en else ""
                        en.append((f"{pre}{short} {noun}", level, ti))
                        en.append((f"{pre}{noun} ({short})", level, ti))
                        en.append((f"{pre}{noun}, {TEAMS_EN[(len(en) * 7) % len(TEAMS_EN)]}", level, ti))
                        en.append((f"{pre}{noun} - {short}", level, ti))
                    for noun in spec["ru"]:
                        if noun.startswith(("разработчик", "программист", "консультант")):
                            base = f"{noun} {short}"
                        else:
                            base = f"{noun} ({short})"
                        if word_ru:
                            ru.append((f"{word_ru} {base}", level, ti))
                        else:
                            ru.append((base[0].upper() + base[1:], level, ti))
                        if short.isascii() and " " not in short and noun == "разработчик" and word_ru in ("", "Senior", "Middle"):
                            ru.append(((word_ru + " " if word_ru else "") + f"{short}-разработчик", level, ti))
                    for noun in spec["de"]:
                        pre = word_de + " " if word_de else ""
                        g = ("(m/w/d)", "(w/m/d)", "(all genders)", "(m/f/d)")[len(de) % 4]
                        if word_de == "Head of":
                            de.append((f"Head of Engineering {g}", level, ti))
                        elif word_de == "Werkstudent":
                            de.append((f"Werkstudent {noun} {short} {g}", level, ti))
                        else:
                            de.append((f"{pre}{noun} {short} {g}", level, ti))
                            de.append((f"{pre}{noun} ({short}) {g}", level, ti))
        for lang, pool in (("en", en), ("ru", ru), ("de", de)):
            pools[(lang, role)] = [(t, lv, ti, _slug(t), _named_skills(t, ti)) for t, lv, ti in pool]
    return pools


_NAMED = {}


def _named_skills(title, tech_index):
    """The skills a title names: its technology first, then any in its other words (ML Engineer)."""
    key = (title.replace(TITLE_TECH.get(SKILLS[tech_index][1], SKILLS[tech_index][1]), "\0"), tech_index)
    if key not in _NAMED:
        pattern, forms = _skill_matcher()
        _NAMED[key] = (tech_index,) + tuple(i for i in dict.fromkeys(forms[m.group(1)] for m in pattern.finditer(title))
                                            if i != tech_index)
    return _NAMED[key]


TITLES = _build_titles()

# --------------------------------------------------------------------------------------------
# Regions: cities (Cyrillic for Russian-speaking places), currencies, boards, languages.
# --------------------------------------------------------------------------------------------
REGIONS = {
    "ru": dict(weight=23, cities=[("Москва", "Россия", "RU")] * 6 + [("Санкт-Петербург", "Россия", "RU")] * 3 + [
        (c, "Россия", "RU") for c in ["Новосибирск", "Екатеринбург", "Казань", "Нижний Новгород", "Краснодар",
                                      "Самара", "Ростов-на-Дону", "Пермь", "Воронеж", "Томск", "Иннополис",
                                      "Уфа", "Челябинск", "Калининград", "Тюмень", "Ярославль"]],
               currency={"RUB": 93, "USD": 4, "EUR": 3}, period={"month": 96, "hour": 3, "year": 1},
               sources={"hh": 85, "habr_career": 15}, ru=0.92, de=0.0, adzuna=None),
    "ru_ext": dict(weight=3, cities=[("Алматы", "Казахстан", "KZ"), ("Астана", "Казахстан", "KZ"),
                                     ("Ташкент", "Узбекистан", "UZ"), ("Ереван", "Армения", "AM"),
                                     ("Тбилиси", "Грузия", "GE"), ("Белград", "Сербия", "RS"),
                                     ("Лимасол", "Кипр", "CY"), ("Минск", "Беларусь", "BY"),
                                     ("Бишкек", "Кыргызстан", "KG")],
                   currency={"USD": 50, "RUB": 30, "EUR": 20}, period={"month": 95, "year": 5},
                   sources={"hh": 90, "habr_career": 10}, ru=0.8, de=0.0, adzuna=None),
    "de": dict(weight=12, cities=[(c, "Germany", "DE") for c in [
        "Berlin", "Berlin", "Berlin", "München", "München", "Hamburg", "Hamburg", "Frankfurt am Main", "Köln",
        "Stuttgart", "Düsseldorf", "Leipzig", "Dresden", "Karlsruhe", "Nürnberg", "Bonn", "Hannover"]],
               currency={"EUR": 100}, period={"year": 80, "month": 10, "hour": 10},
               sources={"arbeitnow": 35, "greenhouse": 20, "lever": 15, "adzuna": 20, "jobspy": 10},
               ru=0.0, de=0.12, adzuna="de"),
    "at": dict(weight=1, cities=[("Wien", "Austria", "AT"), ("Graz", "Austria", "AT"), ("Linz", "Austria", "AT")],
               currency={"EUR": 100}, period={"year": 60, "month": 35, "hour": 5},
               sources={"arbeitnow": 30, "adzuna": 40, "greenhouse": 15, "jobspy": 15}, ru=0.0, de=0.25, adzuna="at"),
    "ch": dict(weight=2, cities=[("Zürich", "Switzerland", "CH"), ("Zürich", "Switzerland", "CH"),
                                 ("Basel", "Switzerland", "CH"), ("Bern", "Switzerland", "CH"),
                                 ("Genève", "Switzerland", "CH"), ("Lausanne", "Switzerland", "CH")],
               currency={"CHF": 90, "EUR": 10}, period={"year": 85, "month": 10, "hour": 5},
               sources={"arbeitnow": 20, "adzuna": 30, "greenhouse": 25, "lever": 15, "jobspy": 10},
               ru=0.0, de=0.2, adzuna="ch"),
    "uk": dict(weight=10, cities=[(c, "United Kingdom", "GB") for c in [
        "London", "London", "London", "Manchester", "Edinburgh", "Bristol", "Cambridge", "Leeds", "Glasgow",
        "Birmingham", "Oxford", "Belfast"]],
               currency={"GBP": 95, "USD": 3, "EUR": 2}, period={"year": 85, "hour": 10, "month": 5},
               sources={"adzuna": 40, "greenhouse": 25, "lever": 20, "jobspy": 15}, ru=0.0, de=0.0, adzuna="uk"),
    "us": dict(weight=20, cities=[(c, "United States", "US") for c in [
        "New York, NY", "New York, NY", "San Francisco, CA", "San Francisco, CA", "Seattle, WA", "Austin, TX",
        "Boston, MA", "Chicago, IL", "Denver, CO", "Los Angeles, CA", "Atlanta, GA", "Raleigh, NC",
        "San Jose, CA", "Washington, DC", "Miami, FL", "Pittsburgh, PA", "Salt Lake City, UT", "Portland, OR"]],
               currency={"USD": 100}, period={"year": 80, "hour": 20},
               sources={"adzuna": 30, "greenhouse": 30, "lever": 20, "jobspy": 20}, ru=0.0, de=0.0, adzuna="us"),
    "ca": dict(weight=3, cities=[(c, "Canada", "CA") for c in [
        "Toronto, ON", "Toronto, ON", "Vancouver, BC", "Montreal, QC", "Ottawa, ON", "Calgary, AB", "Waterloo, ON"]],
               currency={"CAD": 90, "USD": 10}, period={"year": 85, "hour": 15},
               sources={"adzuna": 40, "greenhouse": 20, "lever": 20, "jobspy": 20}, ru=0.0, de=0.0, adzuna="ca"),
    "au": dict(weight=2, cities=[(c, "Australia", "AU") for c in ["Sydney", "Sydney", "Melbourne", "Brisbane", "Perth", "Adelaide", "Canberra"]],
               currency={"AUD": 100}, period={"year": 85, "hour": 15},
               sources={"adzuna": 40, "greenhouse": 20, "lever": 20, "jobspy": 20}, ru=0.0, de=0.0, adzuna="au"),
    "in": dict(weight=5, cities=[(c, "India", "IN") for c in [
        "Bengaluru", "Bengaluru", "Hyderabad", "Pune", "Chennai", "Gurugram", "Noida", "Mumbai", "Kochi", "Ahmedabad"]],
               currency={"INR": 95, "USD": 5}, period={"year": 85, "month": 15},
               sources={"adzuna": 40, "greenhouse": 20, "lever": 15, "jobspy": 25}, ru=0.0, de=0.0, adzuna="in"),
    "pl": dict(weight=4, cities=[(c, "Poland", "PL") for c in ["Warszawa", "Warszawa", "Kraków", "Wrocław", "Gdańsk", "Poznań", "Łódź", "Katowice"]],
               currency={"PLN": 80, "EUR": 15, "USD": 5}, period={"month": 80, "hour": 15, "year": 5},
               sources={"adzuna": 40, "greenhouse": 20, "lever": 20, "jobspy": 20}, ru=0.0, de=0.0, adzuna="pl"),
    "nl": dict(weight=3, cities=[(c, "Netherlands", "NL") for c in ["Amsterdam", "Amsterdam", "Rotterdam", "Utrecht", "Eindhoven", "The Hague", "Delft"]],
               currency={"EUR": 100}, period={"year": 70, "month": 25, "hour": 5},
               sources={"adzuna": 35, "greenhouse": 25, "lever": 25, "jobspy": 15}, ru=0.0, de=0.0, adzuna="nl"),
    "fr": dict(weight=3, cities=[(c, "France", "FR") for c in ["Paris", "Paris", "Lyon", "Toulouse", "Nantes", "Bordeaux", "Lille", "Montpellier"]],
               currency={"EUR": 100}, period={"year": 90, "month": 10},
               sources={"adzuna": 40, "greenhouse": 20, "lever": 25, "jobspy": 15}, ru=0.0, de=0.0, adzuna="fr"),
    "es": dict(weight=2, cities=[(c, "Spain", "ES") for c in ["Madrid", "Barcelona", "Barcelona", "Valencia", "Málaga", "Sevilla"]],
               currency={"EUR": 100}, period={"year": 90, "month": 10},
               sources={"adzuna": 40, "greenhouse": 20, "lever": 25, "jobspy": 15}, ru=0.0, de=0.0, adzuna="es"),
    "remote": dict(weight=7, cities=[("Remote", "", ""), ("Remote", "", ""), ("Remote (Europe)", "", ""),
                                      ("Worldwide", "", ""), ("Remote, US", "", ""), ("Anywhere", "", ""),
                                      ("Remote (EMEA)", "", ""), ("Remote (Americas)", "", "")],
                   currency={"USD": 80, "EUR": 15, "GBP": 5}, period={"year": 70, "month": 10, "hour": 20},
                   sources={"remoteok": 60, "greenhouse": 15, "lever": 15, "jobspy": 10}, ru=0.0, de=0.0, adzuna=None),
}
ADZUNA_HOSTS = {"de": "www.adzuna.de", "at": "www.adzuna.at", "ch": "www.adzuna.ch", "uk": "www.adzuna.co.uk",
                "us": "www.adzuna.com", "ca": "www.adzuna.ca", "au": "www.adzuna.com.au", "in": "www.adzuna.in",
                "pl": "www.adzuna.pl", "nl": "www.adzuna.nl", "fr": "www.adzuna.fr", "es": "www.adzuna.es"}

# Pay ranges (the bottom of the range for a modest job, the top for a highly paid one).
SALARY_RANGES = {
    ("RUB", "month"): (80_000, 600_000), ("RUB", "hour"): (600, 4_000), ("RUB", "year"): (1_000_000, 7_200_000),
    ("USD", "year"): (40_000, 300_000), ("USD", "month"): (3_000, 25_000), ("USD", "hour"): (20, 150),
    ("EUR", "year"): (35_000, 180_000), ("EUR", "month"): (2_500, 14_000), ("EUR", "hour"): (20, 120),
    ("GBP", "year"): (25_000, 160_000), ("GBP", "month"): (2_000, 12_000), ("GBP", "hour"): (15, 100),
    ("PLN", "month"): (6_000, 45_000), ("PLN", "hour"): (40, 250), ("PLN", "year"): (70_000, 500_000),
    ("CHF", "year"): (80_000, 230_000), ("CHF", "month"): (6_500, 19_000), ("CHF", "hour"): (40, 160),
    ("INR", "year"): (300_000, 6_000_000), ("INR", "month"): (25_000, 500_000), ("INR", "hour"): (300, 3_000),
    ("CAD", "year"): (50_000, 220_000), ("CAD", "month"): (4_000, 18_000), ("CAD", "hour"): (20, 120),
    ("AUD", "year"): (60_000, 250_000), ("AUD", "month"): (5_000, 20_000), ("AUD", "hour"): (30, 150),
}
LEVEL_PAY = {None: 0.42, "intern": 0.02, "junior": 0.15, "middle": 0.38, "senior": 0.62, "lead": 0.72,
             "principal": 0.82, "executive": 0.9}
SALARY_SHARE = {"hh": 0.62, "habr_career": 0.7, "adzuna": 0.8, "remoteok": 0.55, "greenhouse": 0.45,
                "lever": 0.4, "arbeitnow": 0.35, "jobspy": 0.5}

# --------------------------------------------------------------------------------------------
# Companies: word parts by naming style, legal forms. `strip` marks the forms the server's
# dedupe key ignores, so a near-duplicate may leave them out.
# --------------------------------------------------------------------------------------------
PARTS_EN_A = ["North", "Blue", "Bright", "Quantum", "Iron", "Silver", "Red", "Green", "Swift", "Clear", "Deep",
              "High", "True", "Open", "Star", "Sun", "Moon", "River", "Stone", "Cloud", "Pixel", "Signal",
              "Vector", "Atlas", "Nova", "Polar", "Cedar", "Maple", "Oak", "Pine", "Harbor", "Summit", "Crest",
              "Beacon", "Orbit", "Prism", "Lumen", "Echo", "Delta", "Apex", "Zenith", "Granite", "Copper",
              "Amber", "Coral", "Falcon", "Raven", "Fox", "Wolf", "Bear", "Lynx", "Otter", "Hawk", "Pioneer",
              "Frontier", "Meridian", "Horizon", "Keystone", "Sterling", "Bold"]
PARTS_EN_B = ["wind", "lane", "forge", "stack", "works", "labs", "bridge", "path", "field", "gate", "line",
              "point", "wave", "spring", "light", "peak", "rock", "leaf", "flow", "loop", "craft", "base",
              "mark", "shift", "scale", "sight", "well", "way", "port", "yard", "hub", "net", "core", "grid",
              "bit", "byte", "cast", "dock", "fleet", "tide"]
SECTOR_EN = ["Robotics", "Analytics", "Systems", "Software", "Health", "Logistics", "Labs", "Technologies",
             "Payments", "Energy", "Digital", "Security", "Networks", "Mobility", "Games", "Bio", "Finance",
             "Media", "Cloud", "AI", "Data", "Insurance", "Foods", "Travel", "Learning", "Capital"]
PARTS_DE_A = ["Nord", "Süd", "Kalt", "Hoch", "Berg", "Wald", "Fluss", "Stern", "Licht", "Feld", "Stadt",
              "Brücken", "Eisen", "Silber", "Gold", "Blau", "Grün", "Rot", "Klar", "Neckar", "Rhein", "Elb",
              "Isar", "Main", "Spree", "Alpen", "Tannen", "Linden", "Falken", "Adler"]
PARTS_DE_B = ["front", "werk", "licht", "punkt", "feld", "stein", "weg", "hafen", "brück", "kraft", "blick",
              "sens", "tech", "daten", "netz", "logik", "bau", "form", "quelle", "strom"]
SECTOR_DE = ["Systems", "Software", "Datentechnik", "Informatik", "Digital", "Solutions", "Analytics",
             "Automation", "Logistik", "Medizintechnik", "Energie", "Mobility", "Consulting", "IT-Services"]
SURNAMES_DE = ["Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz",
               "Hoffmann", "Koch", "Richter", "Klein", "Wolf", "Neumann", "Schwarz", "Zimmermann", "Braun",
               "Krüger", "Hofmann", "Hartmann", "Lange", "Werner", "Krause", "Lehmann", "Köhler", "Brückner"]
PARTS_RU_A = ["Север", "Техно", "Инфо", "Альфа", "Бета", "Гео", "Медиа", "Транс", "Агро", "Энерго", "Промо",
              "Сити", "Вектор", "Спектр", "Полюс", "Байкал", "Волга", "Урал", "Алтай", "Нева", "Кедр", "Ладога",
              "Сокол", "Орион", "Звезда", "Восток", "Запад", "Юг", "Радуга", "Сфера", "Старт", "Прайм"]
PARTS_RU_B = ["софт", "лаб", "системс", "код", "сервис", "тех", "дата", "инвест", "телеком", "логистик",
              "маркет", "банк", "групп", "проект", "информ", "строй", "медиа", "пей", "клауд", "нет"]
PARTS_RU_LATIN = ["Nord", "Tech", "Soft", "Data", "Cloud", "Smart", "Digital", "Fin", "Geo", "Neo", "Meta",
                  "Pro", "Max", "Star", "Line", "Code", "Bit", "Net", "Lab", "Sky"]
LEGAL = {
    "en": [("Inc.", True), ("LLC", True), ("Ltd", True), ("Corp.", True), ("", False), ("", False), ("", False)],
    "us": [("Inc.", True), ("Inc.", True), ("LLC", True), ("Corp.", True), ("", False), ("", False)],
    "uk": [("Ltd", True), ("Ltd", True), ("Limited", True), ("plc", True), ("", False)],
    "de": [("GmbH", True), ("GmbH", True), ("GmbH", True), ("AG", True), ("SE", False), ("GmbH & Co. KG", False), ("", False)],
    "ch": [("AG", True), ("GmbH", True), ("SA", True), ("", False)],
    "at": [("GmbH", True), ("AG", True), ("", False)],
    "nl": [("B.V.", False), ("BV", True), ("N.V.", False), ("", False)],
    "fr": [("SAS", True), ("SA", True), ("", False)],
    "es": [("S.L.", False), ("SA", True), ("", False)],
    "pl": [("sp. z o.o.", False), ("S.A.", False), ("", False)],
    "in": [("Pvt Ltd", False), ("Private Limited", False), ("Ltd", True), ("", False)],
    "ca": [("Inc.", True), ("Ltd", True), ("", False)],
    "au": [("Pty Ltd", False), ("Ltd", True), ("", False)],
    "remote": [("Inc.", True), ("LLC", True), ("Ltd", True), ("", False), ("", False)],
}
INDUSTRIES = [
    ("builds payment infrastructure for small businesses", "создаёт платёжную инфраструктуру для малого бизнеса",
     "entwickelt Zahlungsinfrastruktur für kleine Unternehmen"),
    ("makes route-planning software for delivery fleets", "разрабатывает систему планирования маршрутов для служб доставки",
     "entwickelt Routenplanung für Lieferflotten"),
    ("helps clinics manage patient records and appointments", "помогает клиникам вести записи пациентов и расписание приёмов",
     "hilft Kliniken bei der Verwaltung von Patientenakten und Terminen"),
    ("runs an online marketplace for handmade goods", "развивает онлайн-маркетплейс товаров ручной работы",
     "betreibt einen Online-Marktplatz für handgemachte Produkte"),
    ("develops multiplayer games for phones and consoles", "разрабатывает многопользовательские игры для телефонов и консолей",
     "entwickelt Multiplayer-Spiele für Smartphones und Konsolen"),
    ("builds software that balances electricity grids", "создаёт программное обеспечение для балансировки энергосетей",
     "baut Software, die Stromnetze im Gleichgewicht hält"),
    ("teaches programming to adults through online courses", "обучает взрослых программированию на онлайн-курсах",
     "bringt Erwachsenen in Online-Kursen das Programmieren bei"),
    ("sells car and home insurance entirely online", "продаёт страхование автомобилей и жилья полностью онлайн",
     "verkauft Kfz- und Hausratversicherungen komplett online"),
    ("operates a booking platform for hotels and rentals", "развивает сервис бронирования отелей и апартаментов",
     "betreibt eine Buchungsplattform für Hotels und Ferienwohnungen"),
    ("publishes news and podcasts for millions of readers", "выпускает новости и подкасты для миллионов читателей",
     "veröffentlicht Nachrichten und Podcasts für Millionen Leser"),
    ("protects companies from phishing and account takeover", "защищает компании от фишинга и захвата аккаунтов",
     "schützt Unternehmen vor Phishing und Kontoübernahmen"),
    ("monitors crops with satellite images and field sensors", "следит за посевами с помощью спутниковых снимков и датчиков",
     "überwacht Felder mit Satellitenbildern und Sensoren"),
    ("manages rental apartments for private landlords", "управляет арендными квартирами частных владельцев",
     "verwaltet Mietwohnungen für private Vermieter"),
    ("automates hiring for fast-growing teams", "автоматизирует найм для быстрорастущих команд",
     "automatisiert die Personalgewinnung für schnell wachsende Teams"),
    ("provides mobile and fixed internet to three million homes", "обеспечивает мобильной и домашней связью три миллиона абонентов",
     "versorgt drei Millionen Haushalte mit Mobilfunk und Festnetz-Internet"),
    ("runs a chain of grocery stores with same-day delivery", "управляет сетью продуктовых магазинов с доставкой в день заказа",
     "betreibt eine Kette von Lebensmittelmärkten mit Lieferung am selben Tag"),
    ("builds control software for industrial machines", "создаёт системы управления для промышленного оборудования",
     "entwickelt Steuerungssoftware für Industriemaschinen"),
    ("develops lab automation for drug discovery", "автоматизирует лаборатории для разработки лекарств",
     "automatisiert Labore für die Wirkstoffforschung"),
    ("digitises public services for city governments", "переводит государственные услуги в цифровой формат",
     "digitalisiert Verwaltungsleistungen für Städte und Gemeinden"),
    ("runs an advertising exchange for independent publishers", "развивает рекламную биржу для независимых издателей",
     "betreibt eine Werbebörse für unabhängige Verlage"),
    ("makes contract review tools for law firms", "делает инструменты проверки договоров для юристов",
     "entwickelt Werkzeuge zur Vertragsprüfung für Kanzleien"),
    ("delivers restaurant meals in forty cities", "доставляет еду из ресторанов в сорока городах",
     "liefert Restaurantessen in vierzig Städten"),
    ("builds tools that developers use to ship code faster", "создаёт инструменты, которые помогают разработчикам быстрее выпускать код",
     "baut Werkzeuge, mit denen Entwickler schneller ausliefern"),
    ("measures and reduces the carbon footprint of factories", "измеряет и снижает углеродный след заводов",
     "misst und senkt den CO2-Fußabdruck von Fabriken"),
    ("offers online banking to freelancers and small firms", "предлагает онлайн-банк для фрилансеров и небольших компаний",
     "bietet Online-Banking für Selbstständige und kleine Firmen"),
    ("runs a warehouse network for online retailers", "управляет сетью складов для интернет-магазинов",
     "betreibt ein Lagernetzwerk für Onlinehändler"),
    ("builds trading systems for a regional stock exchange", "разрабатывает торговые системы для биржи",
     "entwickelt Handelssysteme für eine Regionalbörse"),
    ("develops navigation and maps for mobile devices", "разрабатывает навигацию и карты для мобильных устройств",
     "entwickelt Navigation und Karten für mobile Geräte"),
]


def _build_companies(rng, count):
    """Companies as (name, region, legal form strippable?, name without legal form, slug, intro index,
    founded, staff). Names are unique after the server's normalisation."""
    regions = list(REGIONS)
    region_weights = [REGIONS[r]["weight"] for r in regions]
    seen = set()
    skill_names = _skill_matcher()[0]
    companies = []
    region = None
    while len(companies) < count:
        # A name already taken is drawn again in the same region, so regions keep their shares.
        region = region or rng.choices(regions, region_weights)[0]
        if region in ("ru", "ru_ext"):
            style = rng.random()
            if style < 0.55:
                base = rng.choice(PARTS_RU_A) + rng.choice(PARTS_RU_B)
                if rng.random() < 0.3:
                    base += " " + rng.choice(["Технологии", "Групп", "Девелопмент", "Решения", "Лаб", "Диджитал"])
                form = rng.choice(["ООО", "ООО", "ООО", "АО", "ПАО", ""])
                name = f"{form} «{base}»" if form else base
                strip = form in ("ООО", "АО", "ПАО", "")
            elif style < 0.85:
                base = rng.choice(PARTS_RU_LATIN) + rng.choice(PARTS_RU_LATIN).lower()
                if rng.random() < 0.4:
                    base += " " + rng.choice(["Tech", "Group", "Digital", "Lab", "Solutions"])
                name = rng.choice([base, base, f"ООО «{base}»"])
                strip = True
            else:
                base = rng.choice(PARTS_RU_A) + rng.choice(PARTS_RU_B) + " " + rng.choice(
                    ["Банк", "Маркет", "Телеком", "Логистика", "Финанс", "Медиа"])
                name = base
                strip = True
        elif region in ("de", "at", "ch"):
            if rng.random() < 0.25:
                base = f"{rng.choice(SURNAMES_DE)} {rng.choice(SECTOR_DE)}"
                if rng.random() < 0.3:
                    base = f"{rng.choice(SURNAMES_DE)} & {base}"
            else:
                base = rng.choice(PARTS_DE_A) + rng.choice(PARTS_DE_B)
                if rng.random() < 0.8:
                    base += " " + rng.choice(SECTOR_DE)
            form, strip = rng.choice(LEGAL[region])
            name = f"{base} {form}" if form else base
        else:
            base = rng.choice(PARTS_EN_A) + rng.choice(PARTS_EN_B)
            if rng.random() < 0.75:
                base += " " + rng.choice(SECTOR_EN)
            form, strip = rng.choice(LEGAL.get(region, LEGAL["en"]))
            name = f"{base} {form}" if form else base
        key = _norm_words(base)
        if key in seen or skill_names.search(base):  # "Redshift" is a skill, not a company here
            continue
        seen.add(key)
        region_of_this, region = region, None
        companies.append(dict(
            name=name, region=region_of_this, strip=strip, base=base, slug=_slug(base),
            industry=rng.randrange(len(INDUSTRIES)), founded=rng.randint(1995, 2023),
            staff=rng.choice([12, 25, 40, 60, 80, 120, 200, 350, 500, 800, 1500, 3000, 8000, 20000]),
            offices=rng.randint(1, 9)))
    return companies


_WORD_SPLIT = re.compile(r"[^\w]+|_+")
_SERVER_SUFFIXES = {"inc", "llc", "ltd", "limited", "gmbh", "ag", "sa", "sas", "bv", "nv", "plc", "corp",
                    "corporation", "co", "company", "oy", "ab", "as", "srl", "spa", "kg", "ooo", "ооо",
                    "зао", "оао", "пао", "ао", "ип"}


def _norm_words(text):
    return " ".join(w for w in _WORD_SPLIT.split(text.lower().replace("ё", "е")) if w)


# --------------------------------------------------------------------------------------------
# Description text, per language. Skill names never appear in these pools (the self-check
# counts skill mentions by name).
# --------------------------------------------------------------------------------------------
TEXT = {
    "en": dict(
        verbs=[("Design", "Architect", "Shape"), ("Build", "Develop", "Implement", "Write"),
               ("Maintain", "Support", "Operate", "Run"), ("Improve", "Optimise", "Speed up", "Refine"),
               ("Own", "Take ownership of", "Be responsible for"), ("Review", "Assess", "Audit"),
               ("Automate", "Streamline"), ("Monitor", "Observe", "Keep an eye on"),
               ("Scale", "Grow", "Extend"), ("Test", "Verify", "Validate"), ("Document", "Describe"),
               ("Migrate", "Move", "Port"), ("Debug", "Troubleshoot", "Investigate")],
        objects={
            "eng": ["the services behind our checkout", "the public API that partners integrate with",
                    "new features end to end", "the event pipeline between our services",
                    "the billing engine", "internal tools for the support team", "the search and ranking service",
                    "our customer-facing web application", "the notification system",
                    "the core domain model", "integrations with third-party providers",
                    "the authentication and permissions layer", "background job processing",
                    "the mobile app's offline mode", "the reporting module", "the pricing engine",
                    "our design system components", "the booking flow", "the order management system",
                    "the inventory service", "the scheduling algorithm", "legacy modules",
                    "the code base shared by four teams", "the real-time collaboration features"],
            "ops": ["our cloud infrastructure", "deployment pipelines", "the monitoring and alerting stack",
                    "the container platform that runs our services", "disaster recovery procedures",
                    "network and access policies", "the on-call rotation and runbooks",
                    "infrastructure as code modules", "cost reporting for cloud resources",
                    "backup and restore procedures", "the secrets management setup",
                    "capacity planning for peak season", "the internal developer platform",
                    "incident response and postmortems", "the log collection pipeline",
                    "hardening guidelines for our servers"],
            "data": ["data pipelines that feed our dashboards", "the analytics data model",
                     "features for the fraud model", "experiments and their analysis",
                     "the recommendation models", "forecasting models for demand",
                     "data quality checks", "the feature store", "batch and streaming jobs",
                     "training and evaluation pipelines", "labelling workflows", "model serving",
                     "the customer segmentation", "metrics definitions shared by all teams",
                     "the ingestion of partner data", "ranking experiments"],
            "qa": ["the test strategy for new releases", "automated regression suites", "test plans",
                   "end-to-end tests for the web and mobile apps", "load tests before each launch",
                   "the bug triage process", "test data management", "acceptance criteria with product managers",
                   "quality metrics for every release", "the release checklist"],
            "analyst": ["business requirements", "reports for the management team", "process diagrams",
                        "specifications for the development team", "key product metrics",
                        "integration specifications", "the data model of the accounting system",
                        "dashboards for sales and operations", "user stories and acceptance criteria",
                        "the migration plan for the legacy system"],
        },
        contexts=["together with product and design", "for millions of users", "in a high-load environment",
                  "with a focus on reliability", "following our engineering standards", "across several teams",
                  "from first sketch to production", "with a small, experienced team",
                  "while keeping latency low", "so that releases stay boring", "with clear written proposals",
                  "in close contact with customers", "with room to make your own decisions",
                  "in short iterations", "with measurable goals each quarter", "without downtime",
                  "for our enterprise customers", "in a regulated environment", "for our partners in twelve countries",
                  "with a strong testing culture", "as the company grows", "in a friendly remote-first team"],
        about=["We are looking for a {title} to join the {team} team{where}.",
               "As a {title} on the {team} team you will work on a product used by {n} customers every day.",
               "The {team} team is {k} people strong and ships to production several times a day.",
               "You will report to the head of {team} and work closely with product managers and designers.",
               "This is a new position: the {team} team is growing from {k} to {k2} people this year.",
               "Our {team} team handles about {n} requests a minute at peak.",
               "You will join a team of {k} engineers who care about simple, well-tested code."],
        where=[" in {city}", " (remote possible)", "", " in our {city} office", ", working hybrid from {city}"],
        req=["{y}+ years of commercial experience with {S}", "Solid knowledge of {S}", "Hands-on experience with {S} in production",
             "Good understanding of {S}", "Experience building services with {S} and {S2}", "You have shipped production code using {S}",
             "Practical experience with {S}", "Confident with {S} and {S2}", "Deep knowledge of {S}",
             "At least {y} years working with {S}", "You know {S} well and can explain its trade-offs"],
        nice=["Experience with {S}", "Familiarity with {S}", "Some exposure to {S}", "Knowledge of {S} is a plus",
              "You have played with {S} in side projects"],
        generic=["Good written English (B2 or higher)", "Experience working in a distributed team",
                 "A degree in computer science or equivalent experience", "Strong communication skills",
                 "You enjoy mentoring less experienced colleagues", "You write clear documentation",
                 "Ability to work independently and take ownership", "Attention to detail",
                 "Curiosity and willingness to learn new domains", "You care about the people who use what you build",
                 "Experience in a startup environment", "You are comfortable with ambiguity"],
        benefits=["Competitive salary and stock options", "25 days of paid vacation", "Flexible working hours",
                  "Remote-first culture with a yearly team offsite", "Learning budget of 1,500 per year",
                  "Private health insurance for you and your family", "Home office setup allowance",
                  "Parental leave beyond the legal minimum", "Latest laptop of your choice",
                  "Four-day work week in summer", "Gym membership", "Pension plan with company match",
                  "Visa sponsorship and relocation support", "Free lunch in the office", "Mental health support",
                  "Conference budget and time to speak", "Paid volunteering days", "Annual bonus",
                  "Bike leasing", "Modern office in the city centre", "Language classes",
                  "Quarterly hackathons", "Sabbatical after four years"],
        closing=["Send us your CV and a short note about a project you are proud of.",
                 "We welcome applicants of all backgrounds and encourage you to apply even if you do not meet every requirement.",
                 "Our process: a 30-minute intro call, a technical interview and a meeting with the team.",
                 "Questions? Write to our recruiting team, we answer within two working days.",
                 "We hire across the EU and can help with relocation.",
                 "Please apply with your CV in English.", "We look forward to hearing from you!",
                 "The interview process takes about two weeks and has three steps."],
        heads=(("What you will do", "Responsibilities", "Your tasks", "In this role you will"),
               ("What we are looking for", "Requirements", "You have", "About you"),
               ("Nice to have", "Bonus points", "It is a plus if you have"),
               ("What we offer", "Benefits", "Perks")),
        stack=("Our stack:", "Tech stack:", "Stack:"),
        intro=["<strong>{company}</strong> {industry}.", "At <strong>{company}</strong> we {industry_we}.",
               "<strong>{company}</strong> {industry}. Founded in {founded}, we are {staff} people in {offices}."],
    ),
    "ru": dict(
        verbs=[("Проектировать", "Продумывать архитектуру"), ("Разрабатывать", "Создавать", "Писать"),
               ("Поддерживать", "Сопровождать", "Развивать"), ("Улучшать", "Оптимизировать", "Ускорять"),
               ("Отвечать за", "Вести"), ("Проводить ревью", "Проверять"), ("Автоматизировать", "Упрощать"),
               ("Мониторить", "Отслеживать"), ("Масштабировать", "Расширять"), ("Тестировать", "Проверять работу"),
               ("Документировать", "Описывать"), ("Переносить", "Мигрировать"), ("Разбирать", "Расследовать")],
        objects={
            "eng": ["сервисы оформления заказа", "публичный API для партнёров", "новые функции от начала до конца",
                    "обмен событиями между сервисами", "систему биллинга", "внутренние инструменты поддержки",
                    "сервис поиска и ранжирования", "клиентское веб-приложение", "систему уведомлений",
                    "ядро предметной области", "интеграции с внешними сервисами", "слой авторизации и прав доступа",
                    "фоновую обработку задач", "офлайн-режим мобильного приложения", "модуль отчётности",
                    "движок ценообразования", "компоненты дизайн-системы", "процесс бронирования",
                    "систему управления заказами", "сервис складского учёта", "алгоритм планирования",
                    "устаревшие модули", "общую кодовую базу четырёх команд", "функции совместной работы"],
            "ops": ["облачную инфраструктуру", "пайплайны развёртывания", "систему мониторинга и алертинга",
                    "контейнерную платформу", "план восстановления после сбоев", "сетевые политики и доступы",
                    "дежурства и регламенты", "модули инфраструктуры как кода", "отчёты о расходах на облако",
                    "резервное копирование", "хранение секретов", "планирование мощностей к пиковому сезону",
                    "внутреннюю платформу для разработчиков", "разбор инцидентов", "сбор логов",
                    "требования к защите серверов"],
            "data": ["пайплайны данных для дашбордов", "модель хранилища данных", "признаки для антифрод-модели",
                     "эксперименты и их анализ", "рекомендательные модели", "модели прогнозирования спроса",
                     "проверки качества данных", "хранилище признаков", "пакетные и потоковые задачи",
                     "пайплайны обучения и оценки моделей", "процессы разметки", "вывод моделей в продакшен",
                     "сегментацию клиентов", "определения метрик для всех команд", "загрузку данных партнёров",
                     "эксперименты с ранжированием"],
            "qa": ["стратегию тестирования релизов", "автоматические регрессионные тесты", "тест-планы",
                   "сквозные тесты веб- и мобильного приложения", "нагрузочное тестирование перед запуском",
                   "процесс разбора дефектов", "тестовые данные", "критерии приёмки вместе с продактами",
                   "метрики качества релизов", "чек-лист выпуска релиза"],
            "analyst": ["бизнес-требования", "отчёты для руководства", "схемы бизнес-процессов",
                        "постановки задач для разработки", "ключевые продуктовые метрики",
                        "спецификации интеграций", "модель данных учётной системы",
                        "дашборды для продаж и операционного блока", "пользовательские истории",
                        "план миграции со старой системы"],
        },
        contexts=["вместе с продуктовой командой и дизайнерами", "для миллионов пользователей", "в условиях высокой нагрузки",
                  "с упором на надёжность", "по принятым в команде стандартам", "на стыке нескольких команд",
                  "от идеи до продакшена", "в небольшой опытной команде", "сохраняя низкие задержки",
                  "чтобы релизы проходили спокойно", "с понятными письменными предложениями",
                  "в тесном контакте с заказчиками", "с возможностью влиять на решения", "короткими итерациями",
                  "с измеримыми целями на квартал", "без простоев", "для крупных корпоративных клиентов",
                  "в регулируемой отрасли", "для партнёров в двенадцати регионах", "с сильной культурой тестирования"],
        about=["Мы ищем специалиста на позицию «{title}» в команду {team}{where}.",
               "В команде {team} сейчас {k} человек, мы выпускаем релизы несколько раз в день.",
               "Нашим продуктом каждый день пользуются {n} клиентов.",
               "Вы будете работать в тесной связке с продакт-менеджерами и дизайнерами.",
               "Это новая позиция: команда {team} растёт с {k} до {k2} человек в этом году.",
               "В пике наши сервисы обрабатывают около {n} запросов в минуту.",
               "Вы присоединитесь к команде из {k} инженеров, которые ценят простой и протестированный код."],
        where=[" ({city})", " (возможна удалёнка)", "", " в офис в городе {city}", ", гибридный формат, {city}"],
        req=["Опыт коммерческой разработки на {S} от {y} лет", "Уверенное знание {S}", "Опыт работы с {S} в продакшене",
             "Хорошее понимание {S}", "Опыт разработки сервисов на {S} и {S2}", "Практический опыт с {S}",
             "Уверенно работаете с {S} и {S2}", "Глубокое знание {S}", "Не менее {y} лет опыта работы с {S}",
             "Знаете {S} и можете объяснить его сильные и слабые стороны"],
        nice=["Опыт работы с {S}", "Знакомство с {S}", "Знание {S} будет плюсом", "Вы пробовали {S} в своих проектах"],
        generic=["Английский на уровне чтения технической документации", "Опыт работы в распределённой команде",
                 "Высшее техническое образование или эквивалентный опыт", "Умение ясно излагать мысли письменно",
                 "Готовность помогать младшим коллегам", "Умение писать понятную документацию",
                 "Самостоятельность и ответственность", "Внимание к деталям", "Желание разбираться в новых областях",
                 "Опыт работы в стартапе", "Спокойное отношение к неопределённости"],
        benefits=["Официальное трудоустройство по ТК РФ", "ДМС со стоматологией с первого месяца",
                  "Гибкий график и возможность удалённой работы", "Компенсация обучения и конференций",
                  "Современная техника на выбор", "Белая заработная плата два раза в месяц",
                  "Офис в пяти минутах от метро", "Компенсация спорта", "Ежегодный пересмотр зарплаты",
                  "Годовой бонус по результатам работы", "Корпоративные курсы английского языка",
                  "Аккредитованная ИТ-компания", "Оплачиваемые дни на волонтёрство", "Бесплатные обеды в офисе",
                  "Психологическая поддержка", "Хакатоны раз в квартал", "Релокация в другой город за счёт компании",
                  "Дополнительные дни отпуска", "Компенсация домашнего интернета"],
        closing=["Откликайтесь и расскажите о проекте, которым гордитесь.",
                 "Процесс отбора: короткий звонок, техническое интервью и встреча с командой.",
                 "Будем рады вашему отклику!", "Ответим на отклик в течение двух рабочих дней.",
                 "Рассматриваем кандидатов из любых городов.", "Собеседование проходит в два этапа."],
        heads=(("Обязанности", "Чем предстоит заниматься", "Задачи"),
               ("Требования", "Мы ожидаем", "Что для нас важно"),
               ("Будет плюсом", "Дополнительно"),
               ("Условия", "Мы предлагаем", "Что мы предлагаем")),
        stack=("Наш стек:", "Стек:", "Технологии:"),
        intro=["<strong>{company}</strong> {industry}.", "Компания <strong>{company}</strong> {industry}.",
               "<strong>{company}</strong> {industry}. Компания основана в {founded} году, в ней работает {staff} человек."],
    ),
    "de": dict(
        verbs=[("Du konzipierst", "Du entwirfst"), ("Du entwickelst", "Du baust", "Du implementierst"),
               ("Du betreust", "Du wartest", "Du betreibst"), ("Du verbesserst", "Du optimierst"),
               ("Du verantwortest", "Du übernimmst"), ("Du prüfst", "Du bewertest"), ("Du automatisierst", "Du vereinfachst"),
               ("Du überwachst", "Du beobachtest"), ("Du skalierst", "Du erweiterst"), ("Du testest", "Du validierst"),
               ("Du dokumentierst", "Du beschreibst"), ("Du migrierst", "Du überführst")],
        objects={
            "eng": ["die Dienste hinter unserem Checkout", "die öffentliche Schnittstelle für Partner",
                    "neue Funktionen von Anfang bis Ende", "den Austausch von Ereignissen zwischen Diensten",
                    "das Abrechnungssystem", "interne Werkzeuge für den Support", "den Such- und Ranking-Dienst",
                    "unsere Webanwendung", "das Benachrichtigungssystem", "das fachliche Kernmodell",
                    "Anbindungen an externe Dienstleister", "die Rechteverwaltung", "die Verarbeitung von Hintergrundaufgaben",
                    "das Berichtsmodul", "die Preisberechnung", "unsere Designsystem-Komponenten",
                    "die Auftragsverwaltung", "den Lagerdienst", "ältere Module", "die Steuerungssoftware unserer Anlagen"],
            "ops": ["unsere Cloud-Infrastruktur", "Deployment-Pipelines", "Monitoring und Alarmierung",
                    "die Container-Plattform", "Notfallpläne", "Netzwerk- und Zugriffsrichtlinien",
                    "Rufbereitschaft und Betriebshandbücher", "Infrastruktur als Code", "Backups und Wiederherstellung",
                    "die Verwaltung von Zugangsdaten", "die Kapazitätsplanung", "die interne Entwicklerplattform"],
            "data": ["Datenstrecken für unsere Dashboards", "das Datenmodell des Data Warehouse",
                     "Merkmale für das Betrugsmodell", "Experimente und deren Auswertung", "Empfehlungsmodelle",
                     "Prognosemodelle für die Nachfrage", "Prüfungen der Datenqualität", "Batch- und Streaming-Jobs",
                     "Trainings- und Evaluationsstrecken", "die Kundensegmentierung"],
            "qa": ["die Teststrategie für neue Releases", "automatisierte Regressionstests", "Testpläne",
                   "End-to-End-Tests für Web und App", "Lasttests vor jedem Start", "den Umgang mit Fehlermeldungen",
                   "Testdaten", "Abnahmekriterien gemeinsam mit dem Produktteam"],
            "analyst": ["fachliche Anforderungen", "Berichte für die Geschäftsführung", "Prozessmodelle",
                        "Spezifikationen für die Entwicklung", "zentrale Produktkennzahlen", "Schnittstellenbeschreibungen",
                        "das Datenmodell der Buchhaltung", "Dashboards für Vertrieb und Betrieb"],
        },
        contexts=["gemeinsam mit Produkt und Design", "für Millionen Nutzer", "unter hoher Last",
                  "mit Fokus auf Zuverlässigkeit", "nach unseren Engineering-Standards", "teamübergreifend",
                  "von der ersten Skizze bis in die Produktion", "in einem kleinen, erfahrenen Team",
                  "ohne Ausfallzeiten", "in kurzen Iterationen", "mit messbaren Zielen pro Quartal",
                  "für unsere Geschäftskunden", "in einem regulierten Umfeld", "mit viel Gestaltungsspielraum"],
        about=["Wir suchen eine:n {title} für unser Team {team}{where}.",
               "Unser Team {team} besteht aus {k} Personen und liefert mehrmals täglich aus.",
               "Unser Produkt wird täglich von {n} Kunden genutzt.",
               "Du arbeitest eng mit Produktmanagement und Design zusammen.",
               "Die Stelle ist neu: Das Team {team} wächst in diesem Jahr von {k} auf {k2} Personen.",
               "Du wirst Teil eines Teams aus {k} Entwicklerinnen und Entwicklern, denen einfacher, getesteter Code wichtig ist."],
        where=[" in {city}", " (remote möglich)", "", " an unserem Standort {city}", ", hybrid in {city}"],
        req=["Mindestens {y} Jahre Berufserfahrung mit {S}", "Sehr gute Kenntnisse in {S}",
             "Erfahrung mit {S} im produktiven Einsatz", "Gutes Verständnis von {S}",
             "Erfahrung in der Entwicklung mit {S} und {S2}", "Du kennst dich mit {S} gut aus",
             "Praktische Erfahrung mit {S}", "Fundierte Kenntnisse in {S} und {S2}"],
        nice=["Erfahrung mit {S}", "Erste Berührungspunkte mit {S}", "Kenntnisse in {S} sind ein Plus"],
        generic=["Sehr gute Deutsch- und gute Englischkenntnisse", "Abgeschlossenes Studium der Informatik oder vergleichbare Ausbildung",
                 "Erfahrung in verteilten Teams", "Selbstständige und strukturierte Arbeitsweise",
                 "Freude an der Zusammenarbeit im Team", "Kommunikationsstärke", "Sorgfalt und Liebe zum Detail"],
        benefits=["30 Tage Urlaub", "Flexible Arbeitszeiten und Homeoffice", "Betriebliche Altersvorsorge",
                  "Zuschuss zum Deutschlandticket", "Weiterbildungsbudget von 2.000 Euro pro Jahr", "JobRad",
                  "Moderne Hardware nach Wahl", "Unbefristeter Arbeitsvertrag", "Regelmäßige Teamevents",
                  "Kostenloses Obst und Getränke", "Firmenfitness", "Zentral gelegenes Büro",
                  "Workation bis zu vier Wochen im Jahr", "Sprachkurse"],
        closing=["Wir freuen uns auf deine Bewerbung!", "Bewirb dich mit Lebenslauf und frühestmöglichem Eintrittstermin.",
                 "Unser Prozess: ein kurzes Kennenlernen, ein Fachgespräch und ein Treffen mit dem Team.",
                 "Fragen beantwortet dir gerne unser Recruiting-Team."],
        heads=(("Deine Aufgaben", "Das erwartet dich", "Aufgaben"),
               ("Dein Profil", "Das bringst du mit", "Anforderungen"),
               ("Wünschenswert", "Nice to have"),
               ("Wir bieten", "Deine Vorteile", "Benefits")),
        stack=("Unser Tech-Stack:", "Stack:", "Technologien:"),
        intro=["<strong>{company}</strong> {industry}.", "Die <strong>{company}</strong> {industry}.",
               "<strong>{company}</strong> {industry}. Gegründet {founded}, arbeiten heute {staff} Menschen {offices} für uns."],
    ),
}
for _lang in TEXT:
    _t = TEXT[_lang]
    _t["verb_flat"] = [(gi, v) for gi, group in enumerate(_t["verbs"]) for v in group]
    _t["req1"] = [x for x in _t["req"] if "{S2}" not in x]
    _t["req2"] = [x for x in _t["req"] if "{S2}" in x]


def _esc(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# --------------------------------------------------------------------------------------------
# The generator
# --------------------------------------------------------------------------------------------
CHUNK = 5_000  # postings per chunk; a chunk depends only on (seed, chunk number)
ID_SPACE = 500_000  # ids each chunk may use per source (steps of 1-40, so at most 200,000 used)


def _wpick(r, names, cum):
    return names[bisect_right(cum, r() * cum[-1])]


class Generator:
    """Makes postings chunk by chunk. Chunk c depends only on the seed and c (the company list comes
    from the seed alone), so chunks can be made in any order, or in parallel, with the same output;
    a near-duplicate copies an earlier posting of its own chunk."""

    DUPLICATE_SHARE = 0.05
    COMPANIES = 12_000

    def __init__(self, seed):
        self.seed = seed
        rng = random.Random(seed)
        self.companies = _build_companies(rng, self.COMPANIES)
        # Popular employers post far more than the rest: weight 1/(rank + 30).
        order = list(range(len(self.companies)))
        rng.shuffle(order)
        weights = [0.0] * len(order)
        for rank, index in enumerate(order):
            weights[index] = 1.0 / (rank + 30)
        self.company_cum = _cumulative(weights)
        self.region_sources = {r: (list(v["sources"]), _cumulative(list(v["sources"].values())))
                               for r, v in REGIONS.items()}
        self.region_currency = {r: (list(v["currency"]), _cumulative(list(v["currency"].values())))
                                for r, v in REGIONS.items()}
        self.region_period = {r: (list(v["period"]), _cumulative(list(v["period"].values())))
                              for r, v in REGIONS.items()}
        self.roles = {lang: (list(w), _cumulative(list(w.values()))) for lang, w in ROLE_WEIGHTS.items()}
        self.role_skills = {}
        for role, spec in ROLES.items():
            pool, cum, total = [], [], 0.0
            for cat, weight in spec["cats"].items():
                members = SKILLS_BY_CATEGORY[cat]
                for i in members:
                    total += weight / len(members)
                    pool.append(i)
                    cum.append(total)
            # Draws made once: a posting takes the distinct skills of a run of them from a random start.
            self.role_skills[role] = rng.choices(pool, cum_weights=cum, k=8192)
        self.intros = {}
        # Task lists and benefit lists, made once and drawn from: building them for each posting
        # would cost a fifth of the time. Two postings share one with a chance of 1 in 2,048.
        self.r = rng.random
        self.task_lists = {(lang, group): [self._task_list(TEXT[lang], group) for _ in range(2048)]
                           for lang in TEXT for group in TEXT[lang]["objects"]}
        self.benefit_lists = {lang: [_with_html(_some(self.r, TEXT[lang]["benefits"], 3 + int(self.r() * 4)))
                                     for _ in range(2048)] for lang in TEXT}

    def _task_list(self, t, group):
        return _with_html([self._task(t, group) for _ in range(4 + int(self.r() * 4))])

    def chunk(self, number, count):
        """Postings number*CHUNK ... number*CHUNK+count-1, as (job, index in the chunk of the posting
        it duplicates, or None)."""
        self.rng = random.Random(f"{self.seed}/{number}")
        self.r = self.rng.random
        self.ids = {s: number * ID_SPACE for s in SOURCES}
        self.recent = []  # originals that may be copied: [job, blocks, lang, sources used, index, ...]
        out = []
        for i in range(count):
            job = None
            if self.recent and self.r() < self.DUPLICATE_SHARE:
                job = self._duplicate()
            if job is not None:
                out.append(job)
            else:
                out.append((self._original(i), None))
        return out

    # -- identity ------------------------------------------------------------------------------
    def _identity(self, source, company, region, title_slug, city):
        self.ids[source] += 1 + int(self.r() * 40)
        n = self.ids[source]
        if source == "hh":
            ext = str(98_000_000 + n)
            url = f"https://hh.ru/vacancy/{ext}"
        elif source == "habr_career":
            ext = str(1_000_120_000 + n)
            url = f"https://career.habr.com/vacancies/{ext}"
        elif source == "adzuna":
            ext = str(4_900_000_000 + n)
            url = f"https://{ADZUNA_HOSTS[REGIONS[region]['adzuna']]}/jobs/details/{ext}"
        elif source == "remoteok":
            ext = str(1_080_000 + n)
            url = f"https://remoteok.com/remote-jobs/remote-{title_slug}-{company['slug']}-{ext}"
        elif source == "greenhouse":
            ext = f"{7_000_000 + n}003"
            url = f"https://job-boards.greenhouse.io/{company['slug'].replace('-', '')}/jobs/{ext}"
        elif source == "lever":
            # A version-4-shaped UUID, scrambled from the counter (an odd multiplier is a bijection).
            h = f"{(n * 0x9E3779B97F4A7C15F39CC0605CEDC835) & ((1 << 128) - 1):032x}"
            ext = f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[n & 3]}{h[17:20]}-{h[20:]}"
            url = f"https://jobs.lever.co/{company['slug'].replace('-', '')}/{ext}"
        elif source == "arbeitnow":
            ext = f"{title_slug}-{_slug(city) if city else 'remote'}-{400_000 + n}"
            url = f"https://www.arbeitnow.com/jobs/companies/{company['slug']}/{ext}"
        elif n % 3:  # jobspy: LinkedIn or Indeed
            ext = str(4_050_000_000 + n)
            url = f"https://www.linkedin.com/jobs/view/{ext}"
        else:
            ext = f"{(n * 0x9E3779B97F4A7C15) & ((1 << 64) - 1):016x}"
            url = f"https://www.indeed.com/viewjob?jk={ext}"
        return ext, url

    # -- pieces --------------------------------------------------------------------------------
    def _locations(self, source, region, remote):
        r = self.r
        cities = REGIONS[region]["cities"]
        x = r()
        count = 0 if x < 0.07 else 1 if x < 0.82 else 2 if x < 0.94 else 3
        if region == "remote":
            return ([cities[int(r() * len(cities))][0]] if count else []), []
        picked = []
        for _ in range(count):
            c = cities[int(r() * len(cities))]
            if c not in picked:
                picked.append(c)
        out = [_location_string(source, c) for c in picked]
        if remote == "yes" and len(out) < 3 and r() < 0.5:
            out.append("Удалённо" if region in ("ru", "ru_ext") and r() < 0.6 else "Remote")
        return out, picked

    def _salary(self, source, region, level):
        r = self.r
        if r() >= SALARY_SHARE[source]:
            return None
        currency = _wpick(r, *self.region_currency[region])
        period = _wpick(r, *self.region_period[region])
        if (currency, period) not in SALARY_RANGES:
            period = "year" if (currency, "year") in SALARY_RANGES else "month"
        lo, hi = SALARY_RANGES[(currency, period)]
        pos = LEVEL_PAY[level] + self.rng.gauss(0, 0.16)
        pos = 0.0 if pos < 0 else 0.93 if pos > 0.93 else pos
        low = lo * (hi / lo) ** pos
        high = low * (1.12 + r() * 0.48)
        if high > hi:
            high = hi
        step = _step(currency, period, low)
        low = round(low / step) * step
        high = round(high / step) * step
        if high <= low:
            high = low + step
        if step < 1:
            low, high = round(low, 2), round(high, 2)
        else:
            low, high = int(low), int(high)
        x = r()
        mn, mx = (low, None) if x < 0.15 else (None, high) if x < 0.23 else (low, high)
        if region in ("ru", "ru_ext"):
            gross = r() < 0.55
        else:
            g = r()
            gross = True if g < 0.3 else False if g < 0.33 else None
        return {"min": mn, "max": mx, "currency": currency, "period": period, "gross": gross}

    def _skills(self, role, named, k):
        """k skills for the role, those the title names first."""
        draws = self.role_skills[role]
        chosen = list(named)
        seen = set(named)
        at = int(self.r() * len(draws))
        while len(chosen) < k:
            i = draws[at]
            if i not in seen:
                seen.add(i)
                chosen.append(i)
            at = (at + 1) % len(draws)
        return chosen

    def _intro(self, index, lang, variant):
        key = (index, lang, variant)
        text = self.intros.get(key)
        if text is None:
            company = self.companies[index]
            industry = INDUSTRIES[company["industry"]][{"en": 0, "ru": 1, "de": 2}[lang]]
            template = TEXT[lang]["intro"][variant]
            cname = _esc(company["name"])
            if "{industry_we}" in template:
                verb, rest = industry.split(" ", 1)
                text = template.format(company=cname, industry_we=_BASE_VERBS.get(verb, verb) + " " + rest)
            else:
                offices = min(company["offices"], 1 + company["staff"] // 40)
                staff = f"{company['staff']:,}"
                if lang == "en":
                    offices = f"{offices} office{'s' if offices > 1 else ''}"
                else:
                    staff = staff.replace(",", " " if lang == "ru" else ".")
                    offices = f"an {offices} Standorten" if offices > 1 else "an einem Standort"
                text = template.format(company=cname, industry=industry, founded=company["founded"],
                                       staff=staff, offices=offices)
            self.intros[key] = text
        return text

    def _task(self, t, group):
        r = self.r
        verbs, objects, contexts = t["verb_flat"], t["objects"][group], t["contexts"]
        gi, verb = verbs[int(r() * len(verbs))]
        obj = objects[int(r() * len(objects))]
        if r() < 0.75:
            return [(gi, verb, obj), f"{verb} {obj} {contexts[int(r() * len(contexts))]}"]
        return [(gi, verb, obj), f"{verb} {obj}"]

    def _blocks(self, lang, company_index, title, role, skill_ids, city, plain):
        """The description as blocks ["p", html] and ["list", heading, [[key, html], ...]], and as HTML."""
        r = self.r
        t = TEXT[lang]
        group = ROLES[role]["group"]
        intro = self._intro(company_index, lang, int(r() * len(t["intro"])))
        teams = TEAMS_EN if lang == "en" else TEAMS_RU if lang == "ru" else TEAMS_DE
        team = teams[int(r() * len(teams))]
        where = t["where"][int(r() * len(t["where"]))].format(city=city) if city else ""
        n = f"{(2 + int(r() * 900)) * 1000:,}"
        about = t["about"]
        first, k = int(r() * len(about)), 1 + int(r() * 3)
        about = " ".join([about[(first + j) % len(about)] for j in range(k)]).format(
            title=_esc(title), team=team, where=where, n=n if lang == "en" else n.replace(",", " "),
            k=4 + int(r() * 27), k2=31 + int(r() * 30))
        blocks = [["p", intro], ["p", about]]
        heads = t["heads"]
        tasks, tasks_html = _one(r, self.task_lists[(lang, group)])
        blocks.append(["list", _one(r, heads[0]), tasks, tasks_html])

        # Skills: some in a stack line, most in requirements, the rest under nice to have.
        surfaces = []
        for i in skill_ids:
            _, name, aliases = SKILLS[i]
            surfaces.append(aliases[int(r() * len(aliases))] if aliases and r() < 0.35 else name)
        stack = []
        if len(surfaces) >= 6 and r() < 0.4:
            cut = 3 + int(r() * (min(6, len(surfaces) - 3) - 2))
            stack, surfaces = surfaces[-cut:], surfaces[:-cut]
        n_nice = min(len(surfaces) - 1, int(r() * (len(surfaces) // 3 + 1)))
        req_sk, nice_sk = surfaces[:len(surfaces) - n_nice], surfaces[len(surfaces) - n_nice:]
        req = []
        one, two = t["req1"], t["req2"]
        while req_sk:
            if len(req_sk) >= 2 and r() < 0.25:
                req.append([None, two[int(r() * len(two))].format(S=req_sk[0], S2=req_sk[1], y=2 + int(r() * 5))])
                req_sk = req_sk[2:]
            else:
                req.append([None, one[int(r() * len(one))].format(S=req_sk[0], y=2 + int(r() * 5))])
                req_sk = req_sk[1:]
        generic = _some(r, t["generic"], 1 + int(r() * 3))
        req = (generic + req) if r() < 0.3 else (req + generic)
        blocks.append(["list", _one(r, heads[1]), req])
        if nice_sk:
            nice = t["nice"]
            blocks.append(["list", _one(r, heads[2]), [[None, _one(r, nice).format(S=s)] for s in nice_sk]])
        if stack:
            blocks.append(["p", f"<strong>{_one(r, t['stack'])}</strong> {', '.join(stack)}."])
        benefits, benefits_html = _one(r, self.benefit_lists[lang])
        blocks.append(["list", _one(r, heads[3]), benefits, benefits_html])
        blocks.append(["p", _one(r, t["closing"])])
        # Keep within 1-4 KB (with room for another board's markup): add tasks to a short one,
        # drop benefits and tasks from a long one.
        html = _render(blocks, plain)
        size = len(html.encode())
        while size < 1200:
            blocks[2] = blocks[2][:2] + [blocks[2][2] + [self._task(t, group)]]
            html = _render(blocks, plain)
            size = len(html.encode())
        while size > 4000:
            if len(blocks[-2][2]) > 1:
                blocks[-2] = blocks[-2][:2] + [blocks[-2][2][:-1]]
            elif len(blocks[2][2]) > 2:
                blocks[2] = blocks[2][:2] + [blocks[2][2][:-1]]
            elif len(blocks[1][1]) > 200:
                blocks[1][1] = blocks[1][1].split(". ")[0] + "."
            else:
                break
            html = _render(blocks, plain)
            size = len(html.encode())
        return blocks, html

    # -- postings ------------------------------------------------------------------------------
    def _original(self, i):
        r = self.r
        company_index = bisect_right(self.company_cum, r() * self.company_cum[-1])
        company = self.companies[company_index]
        region = company["region"]
        spec = REGIONS[region]
        source = _wpick(r, *self.region_sources[region])
        lang = "en"
        if spec["ru"] and r() < spec["ru"]:
            lang = "ru"
        elif region in ("de", "at", "ch") and r() < (0.5 if source == "arbeitnow" else spec["de"]):
            lang = "de"
        role = _wpick(r, *self.roles[lang])
        title, level, tech, title_slug, named = _one(r, TITLES[(lang, role)])

        if source == "remoteok" or region == "remote":
            remote = "yes"
        else:
            x = r()
            remote = "no" if x < 0.35 else "hybrid" if x < 0.6 else "yes" if x < 0.75 else None
        locations, picked = self._locations(source, region, remote)
        city = picked[0][0] if picked else None
        x = r()
        if level == "intern" and x < 0.8:
            employment = "internship"
        else:
            employment = ("full_time" if x < 0.70 else "contract" if x < 0.78 else "part_time" if x < 0.83
                          else "temporary" if x < 0.85 else "internship" if x < 0.86 else "volunteer" if x < 0.863
                          else "other" if x < 0.88 else None)
        seniority = level if level and r() < 0.35 else None
        salary = self._salary(source, region, level)
        skill_ids = self._skills(role, named, 5 + int(r() * 11))
        blocks, html = self._blocks(lang, company_index, title, role, skill_ids, city, r() < 0.15)
        ext, url = self._identity(source, company, region, title_slug, city)
        published = WINDOW_START + int(r() * (WINDOW_END - WINDOW_START + 1))
        expires = published + (14 + int(r() * 47)) * 86400 if r() < 0.4 else None
        x = r()
        company_name = company["name"] if x >= 0.03 else None
        job = {"source": source, "external_id": ext, "url": url, "title": title}
        if x >= 0.01:  # left out rather than null
            job["company"] = company_name
        job.update(locations=locations, remote=remote, employment_type=employment, seniority=seniority,
                   salary=salary, description_html=html, skills=[],
                   published_at=_ts(published), expires_at=_ts(expires) if expires else None)
        if company_name is not None:  # without a company the server cannot pair it with a copy
            self.recent.append([job, blocks, lang, {source}, i, company, region, title_slug, picked, published])
        return job

    def _duplicate(self):
        """The same position on another board: same company and title, one task reworded, other
        markup, the board's own location strings and ids."""
        r = self.r
        slot = int(r() * len(self.recent))
        orig, blocks, lang, used, orig_index, company, region, title_slug, picked, published = self.recent[slot]
        names = [s for s in self.region_sources[region][0] if s not in used]
        if not names:
            return None
        source = _one(r, names)
        used.add(source)
        if len(used) >= 3:  # on three boards at most
            self.recent[slot] = self.recent[-1]
            self.recent.pop()
        city = picked[0][0] if picked else None
        blocks = list(blocks)
        # Reword one task: another verb of the same meaning, same object and ending.
        tasks = list(blocks[2][2])
        blocks[2] = [blocks[2][0], blocks[2][1], tasks]
        k = int(r() * len(tasks))
        (group, verb, obj), old = tasks[k]
        t = TEXT[lang]
        synonym = _one(r, [v for v in t["verbs"][group] if v != verb])
        tasks[k] = [(group, synonym, obj), f"{synonym} {obj}{old[len(verb) + 1 + len(obj):]}"]
        ext, url = self._identity(source, company, region, title_slug, city)
        job = dict(orig)
        job["source"], job["external_id"], job["url"] = source, ext, url
        if company["strip"] and company["name"] != company["base"] and r() < 0.3:
            job["company"] = company["base"]  # without the legal form
        else:
            job["company"] = company["name"]
        if picked:  # the other board's way of writing the same places
            job["locations"] = [_location_string(source, c) for c in picked] + [
                loc for loc in orig["locations"] if loc in ("Remote", "Удалённо")]
        plain = not orig["description_html"].startswith("<p><strong>") or r() < 0.5
        job["description_html"] = _render(blocks, plain)
        p = min(WINDOW_END, published + int(r() * 5 * 86400))
        job["published_at"] = _ts(p)
        if orig["expires_at"] is not None or r() < 0.3:
            job["expires_at"] = _ts(p + (14 + int(r() * 47)) * 86400)
        return job, orig_index


def _one(r, seq):
    return seq[int(r() * len(seq))]


def _with_html(items):
    return items, _items_html(items)


def _some(r, seq, k):
    """k different items of seq, every other one from a random start (k <= len(seq) / 2)."""
    first, n = int(r() * len(seq)), len(seq)
    return [[None, seq[(first + 2 * j) % n]] for j in range(k)]


_BASE_VERBS = {"builds": "build", "makes": "make", "helps": "help", "runs": "run", "develops": "develop",
               "teaches": "teach", "sells": "sell", "operates": "operate", "publishes": "publish",
               "protects": "protect", "monitors": "monitor", "manages": "manage", "automates": "automate",
               "provides": "provide", "digitises": "digitise", "delivers": "deliver", "measures": "measure",
               "offers": "offer"}


assert all(len(group) > 1 for t in TEXT.values() for group in t["verbs"]), "a reworded task needs a synonym"
assert all(i[0].split(" ", 1)[0] in _BASE_VERBS for i in INDUSTRIES), "'At X we …' needs the base form"


def _location_string(source, city):
    name, country, code = city
    if source == "hh":
        return name
    if source == "habr_career":
        return f"{name}, {country}"
    if source in ("greenhouse", "adzuna"):
        return f"{name}, {country}" if country and "," not in name else name
    if source == "jobspy":
        return f"{name}, {code}" if code else name
    return name


def _items_html(items):
    """A list's items in both markups: (<li> items, paragraph lines)."""
    return "".join([f"<li>{item[1]}</li>" for item in items]), "<br>".join(["– " + item[1] for item in items])


def _render(blocks, plain):
    """HTML from blocks. `plain`: headings without <strong>, lists as paragraphs (another board's
    markup). A list block may carry its items' HTML (from _items_html) as a fourth element."""
    parts = []
    for b in blocks:
        if b[0] == "p":
            parts.append(f"<p>{b[1]}</p>")
        else:
            if plain:
                inner = b[3][1] if len(b) > 3 else "<br>".join(["– " + item[1] for item in b[2]])
                parts.append(f"<p>{b[1]}:</p><p>{inner}</p>")
            else:
                inner = b[3][0] if len(b) > 3 else "".join([f"<li>{item[1]}</li>" for item in b[2]])
                parts.append(f"<p><strong>{b[1]}</strong></p><ul>{inner}</ul>")
    return "".join(parts)


def _step(currency, period, value):
    if period == "hour":
        return 0.5 if value < 40 else 1 if value < 200 else 10 if value < 2_000 else 50
    if period == "month":
        return 100 if value < 20_000 else 1_000 if value < 100_000 else 5_000
    return 1_000 if value < 300_000 else 10_000 if value < 1_000_000 else 50_000


def _cumulative(weights):
    out, total = [], 0.0
    for w in weights:
        total += w
        out.append(total)
    return out


def _ts(seconds):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


_JSON_SPECIAL = re.compile(r'["\\\x00-\x1f\x7f]')


def _check_json_safe(value, where="tables"):
    """Every string a posting is made of comes from the tables above; none may hold a character
    that JSON escapes, so _json_line can write strings as they are."""
    if isinstance(value, str):
        if _JSON_SPECIAL.search(value):
            raise AssertionError(f"{where}: {value!r} holds a character JSON escapes")
    elif isinstance(value, dict):
        for k, v in value.items():
            _check_json_safe(k, where)
            _check_json_safe(v, where)
    elif isinstance(value, (list, tuple, set)):
        for v in value:
            _check_json_safe(v, where)


_check_json_safe([SKILLS, ROLES, LEVELS, TEAMS_EN, TEAMS_RU, TEAMS_DE, TITLES, TITLE_TECH, REGIONS, ADZUNA_HOSTS,
                  PARTS_EN_A, PARTS_EN_B, SECTOR_EN, PARTS_DE_A, PARTS_DE_B, SECTOR_DE, SURNAMES_DE, PARTS_RU_A,
                  PARTS_RU_B, PARTS_RU_LATIN, LEGAL, INDUSTRIES, TEXT])
_JSON_CONST = {None: "null", True: "true", False: "false"}


def _json_text(value):
    return "null" if value is None else f'"{value}"'


def _json_number(value):
    return "null" if value is None else repr(value)


def _json_line(job):
    """The posting as json.dumps(job, ensure_ascii=False, separators=(",", ":")) writes it, in a
    fifth of the time: strings need no escaping (_check_json_safe), numbers are ints or floats."""
    salary = job["salary"]
    if salary is not None:
        salary = (f'{{"min":{_json_number(salary["min"])},"max":{_json_number(salary["max"])},'
                  f'"currency":"{salary["currency"]}","period":"{salary["period"]}","gross":{_JSON_CONST[salary["gross"]]}}}')
    company = f',"company":{_json_text(job["company"])}' if "company" in job else ""
    locations = '","'.join(job["locations"])
    return (f'{{"source":"{job["source"]}","external_id":"{job["external_id"]}","url":"{job["url"]}",'
            f'"title":"{job["title"]}"{company},"locations":[{f"{chr(34)}{locations}{chr(34)}" if locations else ""}],'
            f'"remote":{_json_text(job["remote"])},"employment_type":{_json_text(job["employment_type"])},'
            f'"seniority":{_json_text(job["seniority"])},"salary":{salary or "null"},'
            f'"description_html":"{job["description_html"]}","skills":[],"published_at":"{job["published_at"]}",'
            f'"expires_at":{_json_text(job["expires_at"])}}}')


_WORKER = None


def _make_chunk(args):
    """One chunk as UTF-8 JSON Lines and the planted duplicates as (line, line of the original)."""
    global _WORKER
    seed, number, count = args
    if _WORKER is None or _WORKER.seed != seed:
        _WORKER = Generator(seed)
    items = _WORKER.chunk(number, count)
    base = number * CHUNK
    lines = [_json_line(job) for job, _ in items]
    pairs = [(base + i, base + orig) for i, (_, orig) in enumerate(items) if orig is not None]
    return ("\n".join(lines) + "\n").encode("utf-8"), pairs


def chunks(count, seed, jobs=1):
    """Yields (a chunk as UTF-8 JSON Lines, its planted duplicates) in order; the same for any `jobs`."""
    # Nothing here makes reference cycles, and the collector's passes over the many live objects
    # would cost a quarter of the time.
    gc.disable()
    work = [(seed, c, min(CHUNK, count - c * CHUNK)) for c in range((count + CHUNK - 1) // CHUNK)]
    jobs = min(jobs, len(work))
    if jobs <= 1:
        yield from map(_make_chunk, work)
        return
    import multiprocessing
    with multiprocessing.get_context("fork").Pool(jobs) as pool:
        yield from pool.imap(_make_chunk, work)


# --------------------------------------------------------------------------------------------
# Self-check
# --------------------------------------------------------------------------------------------
FIELDS = ("source", "external_id", "url", "title", "company", "locations", "remote", "employment_type",
          "seniority", "salary", "description_html", "skills", "published_at", "expires_at")
CURRENCIES = {"USD", "EUR", "GBP", "RUB", "PLN", "CHF", "INR", "CAD", "AUD"}
_TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def _text_of(html):
    return re.sub(r"<[^>]+>", " ", html).replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")


_SHINGLE_BITS = {}  # shingle -> its hash as 64 binary digits; descriptions share most shingles


def _simhash(text):
    """The server's fingerprint (crates/sources/src/normalize/fingerprint.rs): SimHash over word pairs."""
    words = [w for w in re.split(r"[^\w]|_", text.lower().replace("ё", "е")) if w]
    shingles = set(words) if len(words) < 2 else {f"{a} {b}" for a, b in zip(words, words[1:])}
    if not shingles:
        return 0
    mask = (1 << 64) - 1
    bits = []
    for s in shingles:
        b = _SHINGLE_BITS.get(s)
        if b is None:
            h = 0xCBF29CE484222325
            for byte in s.encode():
                h = ((h ^ byte) * 0x100000001B3) & mask
            h ^= h >> 33
            h = (h * 0xFF51AFD7ED558CCD) & mask
            h ^= h >> 33
            h = (h * 0xC4CEB9FE1A85EC53) & mask
            b = _SHINGLE_BITS[s] = format(h ^ (h >> 33), "064b")
        bits.append(b)
    half = len(bits) / 2
    # Column j of the binary strings is bit 63 - j; a bit is set when more than half vote for it.
    return sum(1 << (63 - j) for j, column in enumerate(zip(*bits)) if column.count("1") > half)


def _dedupe_key(job):
    company = job.get("company")
    if not company:
        return None
    words = [w for w in _norm_words(company).split() if w not in _SERVER_SUFFIXES]
    title = _norm_words(job["title"])
    if not words or not title:
        return None
    return " ".join(words) + "|" + title


def _fingerprint(job):
    return _simhash("\n".join([job["title"], job.get("company") or "", _text_of(job["description_html"])]))


def self_check(count, seed):
    failures = []

    def fail(index, message):
        if len(failures) < 50:
            failures.append(f"line {index}: {message}")

    started = time.perf_counter()
    global _WORKER
    texts, duplicates = [], []
    for data, pairs in chunks(count, seed):
        texts.append(data.decode("utf-8"))  # strict: fails on anything that is not UTF-8
        duplicates.extend(pairs)
    lines = "".join(texts).split("\n")[:-1]
    gen = _WORKER
    # Same output from a fresh generator, and a chunk does not depend on the chunks made before it.
    _WORKER = None
    first = _make_chunk((seed, 0, min(count, 300)))[0].decode("utf-8")
    if first != "".join(texts)[:len(first)]:
        fail(0, "output differs between two runs with the same seed")
    _make_chunk((seed, 7, 100))
    if _make_chunk((seed, 0, min(count, 300)))[0] != _make_chunk((seed, 0, min(count, 300)))[0]:
        fail(0, "a chunk depends on the chunks made before it")
    matcher, forms = _skill_matcher()
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    if len(SKILLS) < 300:
        fail(0, f"only {len(SKILLS)} skills")
    if len({name for _, name, _ in SKILLS}) != len(SKILLS):
        fail(0, "skill names repeat")
    if len({_dedupe_key({"company": c["name"], "title": "x"}) for c in gen.companies}) < 5000:
        fail(0, "fewer than 5,000 distinct companies")

    jobs, seen_ids = [], set()
    stats = Counter()
    languages = Counter()
    for index, line in enumerate(lines):
        try:
            line.encode("utf-8").decode("utf-8")
            job = json.loads(line)
        except (UnicodeError, ValueError) as err:
            fail(index, f"not UTF-8 JSON: {err}")
            continue
        jobs.append(job)
        if dumps(job) != line:
            fail(index, "line is not what json.dumps writes for it (_json_line)")
        keys = set(job)
        if keys - set(FIELDS):
            fail(index, f"unknown fields {keys - set(FIELDS)}")
        if set(FIELDS) - {"company"} - keys:
            fail(index, f"missing fields {set(FIELDS) - {'company'} - keys}")
            continue
        src, ext, url = job["source"], job["external_id"], job["url"]
        if src not in SOURCES:
            fail(index, f"source {src!r}")
        if not isinstance(ext, str) or not ext.strip() or len(ext) > 256:
            fail(index, f"external_id {ext!r}")
        if (src, ext) in seen_ids:
            fail(index, f"(source, external_id) {(src, ext)} repeats")
        seen_ids.add((src, ext))
        if not re.match(r"^https://[a-z0-9.-]+\.[a-z]{2,}/", url) or ext not in url:
            fail(index, f"url {url!r}")
        title = job["title"]
        if not isinstance(title, str) or not title.strip() or len(title) > 300:
            fail(index, f"title {title!r}")
        company = job.get("company")
        if company is None:
            stats["no company"] += 1
        elif not isinstance(company, str) or not company.strip() or len(company) > 300:
            fail(index, f"company {company!r}")
        locs = job["locations"]
        if not isinstance(locs, list) or len(locs) > 3 or any(not isinstance(l, str) or not l.strip() or len(l) > 200 for l in locs):
            fail(index, f"locations {locs!r}")
        for l in locs:
            stats["loc " + l] += 1
        if job["remote"] not in REMOTE + (None,):
            fail(index, f"remote {job['remote']!r}")
        if job["employment_type"] not in EMPLOYMENT + (None,):
            fail(index, f"employment_type {job['employment_type']!r}")
        if job["seniority"] not in SENIORITY + (None,):
            fail(index, f"seniority {job['seniority']!r}")
        stats["seniority set"] += job["seniority"] is not None
        sal = job["salary"]
        if sal is None:
            stats["no salary"] += 1
        elif not isinstance(sal, dict) or set(sal) != {"min", "max", "currency", "period", "gross"}:
            fail(index, f"salary {sal!r}")
        else:
            mn, mx = sal["min"], sal["max"]
            if mn is None and mx is None:
                fail(index, "salary without bounds")
            for v in (mn, mx):
                if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0):
                    fail(index, f"salary bound {v!r}")
            if mn is not None and mx is not None and mn > mx:
                fail(index, f"salary min {mn} > max {mx}")
            if sal["currency"] not in CURRENCIES or sal["period"] not in PERIODS or sal["gross"] not in (True, False, None):
                fail(index, f"salary {sal!r}")
            elif (sal["currency"], sal["period"]) in SALARY_RANGES:
                lo, hi = SALARY_RANGES[(sal["currency"], sal["period"])]
                for v in (mn, mx):
                    if v is not None and not lo * 0.9 <= v <= hi * 1.01:
                        fail(index, f"salary {v} {sal['currency']}/{sal['period']} outside {lo}-{hi}")
            else:
                fail(index, f"no range for {sal['currency']}/{sal['period']}")
            stats[f"salary {sal['currency']}/{sal['period']}"] += 1
        html = job["description_html"]
        size = len(html.encode("utf-8")) if isinstance(html, str) else -1
        if not 1024 <= size <= 4096:
            fail(index, f"description_html is {size} bytes")
        mentioned = {forms[m.group(1)] for m in matcher.finditer(_text_of(html))}
        if not 5 <= len(mentioned) <= 15:
            fail(index, f"{len(mentioned)} skills mentioned: {sorted(SKILLS[i][1] for i in mentioned)}")
        stats["mentions"] += len(mentioned)
        if job["skills"] != []:
            fail(index, "skills is not empty")
        pub, exp = job["published_at"], job["expires_at"]
        if not isinstance(pub, str) or not _TS.match(pub) or not _ts(WINDOW_START) <= pub <= _ts(WINDOW_END):
            fail(index, f"published_at {pub!r}")
        if exp is not None and (not isinstance(exp, str) or not _TS.match(exp) or exp <= pub):
            fail(index, f"expires_at {exp!r} (published {pub})")
        cyr = sum(1 for ch in html if "\u0400" <= ch <= "\u04ff")
        lang = "ru" if cyr > 200 else "de" if re.search(r"\b(Du|Wir|und|mit)\b", html) else "en"
        languages[lang] += 1
        stats[f"{src} {lang}"] += 1
        stats["src " + src] += 1

    n = len(jobs)
    # Distributions the brief asks for, with room for chance.
    def share(x):
        return x / max(n, 1)
    checks = [
        ("postings without salary", share(stats["no salary"]), 0.3, 0.5),
        ("postings without company", share(stats["no company"]), 0.01, 0.06),
        ("Russian descriptions", share(languages["ru"]), 0.14, 0.27),
        ("German descriptions", share(languages["de"]), 0.005, 0.08),
        ("postings stating seniority", share(stats["seniority set"]), 0.1, 0.45),
        ("planted duplicates", share(len(duplicates)), 0.03, 0.07),
    ]
    for name, value, lo, hi in checks:
        if not lo <= value <= hi:
            fail(-1, f"{name}: {value:.3f}, expected {lo}-{hi}")
    if stats["src hh"] and stats["hh ru"] / stats["src hh"] < 0.75:
        fail(-1, "hh postings are not mostly Russian")
    for city in ("Москва", "Санкт-Петербург", "Remote"):
        if not stats["loc " + city]:
            fail(-1, f"no posting in {city}")

    # Planted duplicates are duplicates to the server: same dedupe key, fingerprint within 12 bits,
    # another board. Other postings sharing a dedupe key should mostly stay apart.
    distances = []
    for dup, orig in duplicates:
        a, b = jobs[dup], jobs[orig]
        if a["source"] == b["source"]:
            fail(dup, f"duplicate of line {orig} on the same source")
        if _dedupe_key(a) is None or _dedupe_key(a) != _dedupe_key(b):
            fail(dup, f"duplicate of line {orig} has another dedupe key: {_dedupe_key(a)!r} vs {_dedupe_key(b)!r}")
        d = bin(_fingerprint(a) ^ _fingerprint(b)).count("1")
        distances.append(d)
        if a["description_html"] == b["description_html"]:
            fail(dup, f"duplicate of line {orig} has the same description")
    # SimHash has a tail: of the 49,235 planted in 1,000,000 (seed 42), 2 are 13 and 16 bits apart.
    far = sum(d > 12 for d in distances)
    if far > max(1, len(distances) // 1000):
        fail(-1, f"{far} of {len(distances)} planted duplicates are more than 12 bits from their original")
    planted = {d for d, _ in duplicates}
    groups = defaultdict(list)
    for index, job in enumerate(jobs):
        if index not in planted:
            key = _dedupe_key(job)
            if key:
                groups[key].append(index)
    accidental = pairs = 0
    for members in groups.values():
        if len(members) < 2:
            continue
        prints = [_fingerprint(jobs[m]) for m in members[:20]]
        for x in range(len(prints)):
            for y in range(x):
                pairs += 1
                accidental += bin(prints[x] ^ prints[y]).count("1") <= 12
    if accidental > max(2, 0.001 * n):
        fail(-1, f"{accidental} unplanted pairs (of {pairs} with a shared dedupe key) are near-duplicates")

    elapsed = time.perf_counter() - started
    for f in failures:
        print("FAIL", f, file=sys.stderr)
    top = lambda prefix: ", ".join(f"{k[len(prefix):]} {v}" for k, v in stats.most_common() if k.startswith(prefix))
    print(f"self-check: {n} postings, {len(duplicates)} planted duplicates "
          f"(distance {min(distances, default=0)}-{max(distances, default=0)} bits, {far} over 12, "
          f"mean {sum(distances) / max(len(distances), 1):.1f}), "
          f"{accidental} accidental near-duplicates among {pairs} same-key pairs; "
          f"languages {dict(languages)}; sources: {top('src ')}; "
          f"no salary {share(stats['no salary']):.1%}, no company {share(stats['no company']):.1%}, "
          f"mean skill mentions {stats['mentions'] / max(n, 1):.1f}; {elapsed:.1f} s", file=sys.stderr)
    print("self-check " + ("FAILED" if failures else "passed"), file=sys.stderr)
    return 1 if failures else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=None, help="postings (default 1,000,000; 2,000 with --self-check)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", help="output file (default: stdout)")
    parser.add_argument("--jobs", type=int, default=1,
                        help="processes (default 1); the output is the same for any number")
    parser.add_argument("--self-check", action="store_true", help="generate in memory and check the invariants")
    args = parser.parse_args()
    if args.self_check:
        sys.exit(self_check(args.count or 2_000, args.seed))
    count = 1_000_000 if args.count is None else args.count
    if count < 0 or args.jobs < 1:
        parser.error("--count must be >= 0 and --jobs >= 1")
    args.jobs = min(args.jobs, max(1, (count + CHUNK - 1) // CHUNK))
    started = time.perf_counter()
    written = duplicates = 0
    try:
        with (open(args.out, "wb") if args.out else open(sys.stdout.fileno(), "wb", closefd=False)) as out:
            for data, pairs in chunks(count, args.seed, args.jobs):
                out.write(data)
                written += len(data)
                duplicates += len(pairs)
    except BrokenPipeError:  # e.g. piped into head
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
    elapsed = time.perf_counter() - started
    print(f"generated {count} postings, {written} bytes ({written / 1e6:.1f} MB), {duplicates} near-duplicates "
          f"planted, seed {args.seed}, {elapsed:.1f} s with {args.jobs} process{'es' if args.jobs > 1 else ''} "
          f"({count / max(elapsed, 1e-9):,.0f} lines/s)", file=sys.stderr)


if __name__ == "__main__":
    main()
