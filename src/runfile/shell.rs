//! Spotting a command whose trial values would become shell code: a `{placeholder}` inside the
//! script of `sh -c` (or any shell's `-c`). The argv form (`["python3", "train.py", "--lr",
//! "{lr}"]`) hands each value to the program as one argument, whatever it holds; inside a shell
//! script the shell parses the value, so a choice value with a space, a quote, `;` or `$(...)`
//! changes what runs.

use std::path::Path;

/// Programs treated as shells: their `-c` argument is a script.
pub const SHELLS: [&str; 9] = [
    "sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "busybox", "fish",
];

/// The index in `argv` of the script of a shell's `-c` (`["sh", "-c", SCRIPT, ...]`, also
/// `bash -ec`, `/bin/sh -c` and a shell started through `env`), if there is one.
pub fn shell_script_index(argv: &[String]) -> Option<usize> {
    let name = |s: &str| {
        Path::new(s)
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or(s)
            .to_string()
    };
    let mut i = 0;
    if argv.first().is_some_and(|a| name(a) == "env") {
        i = 1;
        // env's options and VAR=value assignments
        while i < argv.len() && (argv[i].starts_with('-') || argv[i].contains('=')) {
            i += 1;
        }
    }
    let shell = argv.get(i)?;
    if !SHELLS.contains(&name(shell).as_str()) {
        return None;
    }
    let mut j = i + 1;
    if name(shell) == "busybox" {
        // busybox sh -c SCRIPT
        j += 1;
    }
    while let Some(a) = argv.get(j) {
        if a == "--" || !a.starts_with('-') {
            return None;
        }
        if !a.starts_with("--") && a[1..].contains('c') {
            return (j + 1 < argv.len()).then_some(j + 1);
        }
        j += 1;
    }
    None
}

/// The warning for `placeholder` inside the script of a shell's `-c`.
pub fn shell_warning(placeholder: &str) -> String {
    format!(
        "placeholder '{{{placeholder}}}' sits inside a shell's -c script: its values become shell code (a value with a space, a quote, ';' or '$(...)' changes what runs); pass it as an argument instead ([\"python3\", \"train.py\", \"--x\", \"{{{placeholder}}}\"], or after the script: [\"sh\", \"-c\", \"train --x \\\"$1\\\"\", \"sh\", \"{{{placeholder}}}\"]) or read it from the environment (HPO_PARAMS)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn finds_the_script() {
        assert_eq!(shell_script_index(&v(&["sh", "-c", "echo {x}"])), Some(2));
        assert_eq!(shell_script_index(&v(&["/bin/bash", "-euc", "x"])), Some(2));
        assert_eq!(shell_script_index(&v(&["bash", "-e", "-c", "x"])), Some(3));
        assert_eq!(
            shell_script_index(&v(&["env", "A=1", "-i", "zsh", "-c", "x"])),
            Some(5)
        );
        assert_eq!(shell_script_index(&v(&["sh", "run.sh", "{x}"])), None);
        assert_eq!(shell_script_index(&v(&["sh", "-c"])), None);
        assert_eq!(shell_script_index(&v(&["python3", "-c", "x"])), None);
        assert_eq!(shell_script_index(&v(&["python3", "sh", "-c", "x"])), None);
    }
}
