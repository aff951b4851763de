"""``tagger-ref golden list`` and ``tagger-ref golden export NAME DIR``: the shipped golden cases."""


def register(subparsers):
    p = subparsers.add_parser(
        "golden",
        help="list or export the golden cases shipped with the package",
        description="Golden cases are small (config, params, inputs, trace) sets in the format of docs/spec.md "
        "section 8. "
        "Run your implementation on a case's config.json, params.npz and inputs.npz, write your "
        "trace, and check it with `tagger-ref compare trace.npz YOUR_TRACE.npz`.",
    )
    sub = p.add_subparsers(dest="golden_command", metavar="ACTION")
    sub.required = True
    p_list = sub.add_parser("list", help="list the shipped cases with what each covers")
    p_list.set_defaults(func=run_list)
    p_export = sub.add_parser(
        "export",
        help="copy a case's four files into a folder",
        description="Copy config.json, params.npz, inputs.npz and trace.npz of case NAME "
        "into DIR (created if missing). NAME 'all' exports every case into "
        "DIR/<name>/.",
    )
    p_export.add_argument("name", metavar="NAME", help="a case from `tagger-ref golden list`, or 'all'")
    p_export.add_argument("dest", metavar="DIR", help="destination folder")
    p_export.add_argument("--force", action="store_true", help="replace files that already exist")
    p_export.set_defaults(func=run_export)


def run_list(args):
    from ..oracle import golden  # here, not at the top: --help imports no maths (test_cli)

    for name in golden.list_cases():
        config = golden.load_case(name)[0]
        shape = (
            f"N={config.n_inputs} K={config.n_groups} B={config.batch_size} T={config.n_iterations} "
            f"Ladder {list(config.encoder_proj)}"
        )
        print(
            f"{name}\n  {config.input_type}, {config.norm} norm, semantics {config.semantics}; {shape}"
            f"\n  {golden.describe(name)}"
        )
    return 0


def run_export(args):
    from ..oracle import golden

    names = golden.list_cases() if args.name == "all" else [args.name]
    exported = golden.export_cases(names, args.dest, force=args.force, nested=args.name == "all")
    for name, (folder, _) in exported.items():
        print(f"exported {name} to {folder}")
    return 0
