//! Write the first rows of a bundled data set as CSV (header row = the feature names the models
//! are trained with), e.g. to try `hpo predict` on them:
//!
//! cargo run --example export_dataset -- diabetes 20 > data/diabetes_sample.csv

use hpo::objective::linfa::DataSource;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let name = args.first().map(String::as_str).unwrap_or("diabetes");
    let rows: usize = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(20);
    let table = DataSource::builtin(name)?.load()?;
    let quote = |s: &str| {
        if s.contains([',', '"']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_string()
        }
    };
    let mut header: Vec<String> = table.feature_names.iter().map(|f| quote(f)).collect();
    header.push(quote(&table.target_name));
    println!("{}", header.join(","));
    for (r, t) in table
        .records
        .outer_iter()
        .zip(table.targets.iter())
        .take(rows)
    {
        let mut cells: Vec<String> = r.iter().map(|v| v.to_string()).collect();
        cells.push(t.to_string());
        println!("{}", cells.join(","));
    }
    Ok(())
}
