"""``python -m pytorch_notes``: print versions, devices and a tiny op per device."""

from pytorch_notes.env import environment_report


def main() -> None:
    """Print the environment report, one ``name: value`` line each."""
    report = environment_report()
    width = max(map(len, report))
    for name, value in report.items():
        print(f"{name:<{width}} : {value}")


if __name__ == "__main__":
    main()
