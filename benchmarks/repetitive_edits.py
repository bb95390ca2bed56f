"""A task set of repetitive edits: documents whose natural next lines copy or adapt nearby code.

Real editing is full of this (the next test case, the next getter, the next table row, the next
switch case). Each task is a document and a cursor; what the model writes there should largely
repeat text already in the file, which is where n-gram drafting shines. Names are invented.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class EditTask:
    task_id: str
    language: str
    path: str
    prefix: str
    suffix: str = ""


def _python_tests() -> EditTask:
    prefix = """import pytest

from ledger.rates import convert_amount


def test_convert_amount_eur_to_usd():
    result = convert_amount(100, source="EUR", target="USD", table=RATES)
    assert result.amount == pytest.approx(108.0)
    assert result.currency == "USD"
    assert result.rounded is False


def test_convert_amount_usd_to_eur():
    result = convert_amount(100, source="USD", target="EUR", table=RATES)
    assert result.amount == pytest.approx(92.6)
    assert result.currency == "EUR"
    assert result.rounded is False


def test_convert_amount_gbp_to_usd():
"""
    return EditTask("py-tests", "python", "tests/test_rates.py", prefix)


def _python_properties() -> EditTask:
    prefix = """class SensorReading:
    def __init__(self, raw: dict) -> None:
        self._raw = raw

    @property
    def temperature(self) -> float:
        value = self._raw.get("temperature")
        if value is None:
            raise MissingField("temperature")
        return float(value)

    @property
    def humidity(self) -> float:
        value = self._raw.get("humidity")
        if value is None:
            raise MissingField("humidity")
        return float(value)

    @property
    def pressure(self) -> float:
"""
    return EditTask("py-properties", "python", "sensors/reading.py", prefix)


def _python_dispatch() -> EditTask:
    prefix = """def handle_event(event: Event, store: Store) -> None:
    if event.kind == "created":
        store.log(f"created {event.item_id} by {event.actor}")
        store.counters["created"] += 1
        store.notify(event.actor, "created", event.item_id)
    elif event.kind == "updated":
        store.log(f"updated {event.item_id} by {event.actor}")
        store.counters["updated"] += 1
        store.notify(event.actor, "updated", event.item_id)
    elif event.kind == "deleted":
"""
    return EditTask("py-dispatch", "python", "events/handlers.py", prefix)


def _python_argparse() -> EditTask:
    prefix = """def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="quarry")
    parser.add_argument("--input-dir", type=Path, required=True, help="where the raw tiles are")
    parser.add_argument("--output-dir", type=Path, required=True, help="where the mosaics go")
    parser.add_argument("--cache-dir", type=Path, required=False, help="where the cache lives")
"""
    return EditTask("py-argparse", "python", "quarry/cli.py", prefix, "    return parser\n")


def _python_dataclass_rows() -> EditTask:
    prefix = """PLANETS = [
    Planet(name="Mercury", radius_km=2439.7, moons=0, has_rings=False),
    Planet(name="Venus", radius_km=6051.8, moons=0, has_rings=False),
    Planet(name="Earth", radius_km=6371.0, moons=1, has_rings=False),
    Planet(name="Mars", radius_km=3389.5, moons=2, has_rings=False),
"""
    return EditTask("py-rows", "python", "astro/planets.py", prefix, "]\n")


def _python_method_mirror() -> EditTask:
    prefix = """class Vector3:
    def __add__(self, other: "Vector3") -> "Vector3":
        return Vector3(self.x + other.x, self.y + other.y, self.z + other.z)

    def __sub__(self, other: "Vector3") -> "Vector3":
"""
    return EditTask("py-mirror", "python", "geometry/vector.py", prefix)


def _js_switch() -> EditTask:
    prefix = """function reducer(state, action) {
  switch (action.type) {
    case "ADD_TODO":
      return { ...state, todos: [...state.todos, action.payload], lastAction: action.type };
    case "REMOVE_TODO":
      return { ...state, todos: state.todos.filter((t) => t.id !== action.payload.id), lastAction: action.type };
    case "TOGGLE_TODO":
      return { ...state, todos: state.todos.map((t) => (t.id === action.payload.id ? { ...t, done: !t.done } : t)), lastAction: action.type };
    case "RENAME_TODO":
"""
    return EditTask("js-switch", "javascript", "src/reducer.js", prefix, "  }\n}\n")


def _ts_interface_mapping() -> EditTask:
    prefix = """export function toDto(user: User): UserDto {
  return {
    id: user.id,
    displayName: user.displayName,
    emailAddress: user.emailAddress,
    createdAt: user.createdAt.toISOString(),
    updatedAt: user.updatedAt.toISOString(),
  };
}

export function fromDto(dto: UserDto): User {
  return {
"""
    return EditTask("ts-mapping", "typescript", "src/users/dto.ts", prefix, "  };\n}\n")


def _go_methods() -> EditTask:
    prefix = """func (s *Server) handleListWidgets(w http.ResponseWriter, r *http.Request) {
	items, err := s.store.ListWidgets(r.Context())
	if err != nil {
		s.writeError(w, http.StatusInternalServerError, err)
		return
	}
	s.writeJSON(w, http.StatusOK, items)
}

func (s *Server) handleListGadgets(w http.ResponseWriter, r *http.Request) {
"""
    return EditTask("go-handlers", "go", "server/handlers.go", prefix)


def _rust_match() -> EditTask:
    prefix = """impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Token::Plus => write!(f, "+"),
            Token::Minus => write!(f, "-"),
            Token::Star => write!(f, "*"),
            Token::Slash => write!(f, "/"),
            Token::LParen => write!(f, "("),
"""
    return EditTask("rust-match", "rust", "src/token.rs", prefix, "        }\n    }\n}\n")


def _java_builder() -> EditTask:
    prefix = """public final class OrderBuilder {
    private String customerId;
    private String shippingAddress;
    private String billingAddress;

    public OrderBuilder customerId(String customerId) {
        this.customerId = customerId;
        return this;
    }

    public OrderBuilder shippingAddress(String shippingAddress) {
        this.shippingAddress = shippingAddress;
        return this;
    }

"""
    return EditTask("java-builder", "java", "src/OrderBuilder.java", prefix, "}\n")


def _c_table() -> EditTask:
    prefix = """static const struct command COMMANDS[] = {
    { "open",   cmd_open,   "open a file for reading and writing" },
    { "close",  cmd_close,  "close the current file" },
    { "save",   cmd_save,   "save the current file" },
"""
    return EditTask("c-table", "c", "src/commands.c", prefix, "};\n")


TASKS: tuple[EditTask, ...] = (
    _python_tests(),
    _python_properties(),
    _python_dispatch(),
    _python_argparse(),
    _python_dataclass_rows(),
    _python_method_mirror(),
    _js_switch(),
    _ts_interface_mapping(),
    _go_methods(),
    _rust_match(),
    _java_builder(),
    _c_table(),
)
