"""Gates: pure functions from (cases, baseline results, candidate results, thresholds) to a
`GateVerdict`. No engine code lives here."""
