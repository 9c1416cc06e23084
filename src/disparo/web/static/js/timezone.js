// Wall-clock times in a bot's IANA time zone <-> instants, with nothing but Intl.

function parts(date, timeZone) {
  const fmt = new Intl.DateTimeFormat("en-US", {
    timeZone,
    hourCycle: "h23",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  });
  const out = {};
  for (const p of fmt.formatToParts(date)) if (p.type !== "literal") out[p.type] = Number(p.value);
  return out;
}

/** Minutes east of UTC of `timeZone` at instant `date` (e.g. -180 for São Paulo). */
export function offsetMinutes(date, timeZone) {
  const p = parts(date, timeZone);
  const asUtc = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
  return Math.round((asUtc - Math.floor(date.getTime() / 1000) * 1000) / 60000);
}

/** "UTC−03:00" */
export function offsetLabel(date, timeZone) {
  const minutes = offsetMinutes(date, timeZone);
  const sign = minutes < 0 ? "−" : "+";
  const abs = Math.abs(minutes);
  return `UTC${sign}${String(Math.floor(abs / 60)).padStart(2, "0")}:${String(abs % 60).padStart(2, "0")}`;
}

/** The instant when the wall clock of `timeZone` reads `wall` ("2025-05-12T14:30"). */
export function wallToInstant(wall, timeZone) {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(wall || "");
  if (!m) return null;
  const guess = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5]);
  let instant = guess - offsetMinutes(new Date(guess), timeZone) * 60000;
  // Around a DST change the offset at the answer may differ from the first guess's.
  instant = guess - offsetMinutes(new Date(instant), timeZone) * 60000;
  return new Date(instant);
}

/** What the wall clock of `timeZone` reads at `date`, as a datetime-local value. */
export function instantToWall(date, timeZone) {
  const p = parts(date, timeZone);
  const pad = (n) => String(n).padStart(2, "0");
  return `${p.year}-${pad(p.month)}-${pad(p.day)}T${pad(p.hour)}:${pad(p.minute)}`;
}

export function timeZones() {
  try {
    return Intl.supportedValuesOf("timeZone");
  } catch {
    return ["America/Sao_Paulo", "UTC"];
  }
}
