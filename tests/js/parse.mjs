// Reads iCalendar text on stdin and prints what ical.js (the parser in Thunderbird) sees, as JSON:
// timed starts and ends as UTC instants, all-day ones as dates, so the Python tests can compare parsers.
import ICAL from "ical.js";

let text = "";
for await (const chunk of process.stdin) text += chunk;

const calendar = new ICAL.Component(ICAL.parse(text));
for (const zone of calendar.getAllSubcomponents("vtimezone")) {
  ICAL.TimezoneService.register(zone);
}
const moment = (time) => (time.isDate ? time.toString() : time.toJSDate().toISOString());
const events = calendar.getAllSubcomponents("vevent").map((component) => {
  const event = new ICAL.Event(component);
  const text = (name) => component.getFirstPropertyValue(name);
  return {
    uid: event.uid,
    summary: event.summary,
    description: event.description,
    location: event.location,
    status: text("status"),
    url: text("url") ? String(text("url")) : null,
    sequence: event.sequence,
    dtstamp: moment(text("dtstamp")),
    last_modified: text("last-modified") ? moment(text("last-modified")) : null,
    start: moment(event.startDate),
    end: moment(event.endDate),
    all_day: event.startDate.isDate,
  };
});
process.stdout.write(
  JSON.stringify({
    name: calendar.getFirstPropertyValue("x-wr-calname"),
    method: calendar.getFirstPropertyValue("method"),
    timezones: calendar.getAllSubcomponents("vtimezone").length,
    events,
  }),
);
