"""scripts/train.py: GluonCV flag aliases mean the same as ours, and --help lists them with every default."""
from tests.helpers.scripts import load_script, run_script


def _parse(*argv):
    return load_script("train.py").parse_args(list(argv)).flat()


def test_gluoncv_aliases_map_onto_our_options():
    gcv = _parse("--num-epochs", "7", "--save-frequency", "2", "--eval-frequency", "3", "--use-pretrained",
                 "--data-dir", "d", "-j", "5", "--mixup", "--label-smoothing")
    ours = _parse("--epochs", "7", "--save-every", "2", "--eval-every", "3", "--pretrained", "--data-dir", "d",
                  "--workers", "5", "--mixup-alpha", "0.2", "--label-smoothing", "0.1")
    assert gcv == ours
    assert _parse("--num-data-workers", "3")["workers"] == 3
    assert _parse("--mixup", "--mixup-alpha", "0.4")["mixup_alpha"] == 0.4
    assert _parse("--label-smoothing", "0.2")["label_smoothing"] == 0.2
    assert _parse()["mixup_alpha"] == 0.0 and _parse()["label_smoothing"] == 0.0


def test_help_lists_aliases_and_defaults():
    result = run_script("train.py", "--help", timeout=300)
    assert result.returncode == 0
    for flag in ("--num-epochs", "--save-frequency", "--eval-frequency", "--use-pretrained", "--data-dir",
                 "-j", "--num-data-workers", "--mixup", "--label-smoothing", "--keep-checkpoints"):
        assert flag in result.stdout, flag
    text = " ".join(result.stdout.split())
    assert "(default: 0.05)" in text and "(default: 2)" in text
