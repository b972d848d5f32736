"""Where an example is judged, and how well each judge is known to judge.

- :mod:`~synthfactory.verify.steps`: the verifier steps a recipe declares (a check, the
  sandbox, a judge), and :mod:`~synthfactory.verify.policy`, which tiers run on which items.
- :mod:`~synthfactory.verify.checks`: the built-in checks a YAML recipe names
  (:mod:`~synthfactory.verify.text_checks`, :mod:`~synthfactory.verify.code_checks`).
- :mod:`~synthfactory.verify.tiers`: verdict bookkeeping and pass rates per tier.
- :mod:`~synthfactory.verify.stats`: rates with Wilson 95% intervals.
- :mod:`~synthfactory.verify.qa`: acceptance sampling; its verifiers (a stronger model, your
  checker, a person) are in :mod:`~synthfactory.verify.qa_verifiers`.
- :mod:`~synthfactory.verify.quality`: a run's measured defect rate and its quality SLA, as
  the ledger's qa checks state them.

The sandbox (:mod:`synthfactory.sandbox`) is a backend these call; nothing here runs
generated code itself.
"""
