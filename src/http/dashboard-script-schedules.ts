// The dashboard's schedules (a module of /dashboard.js, see dashboard-script.ts): every schedule with its timing,
// next due time, last run and whether it is paused, with pause/resume. Reloaded every 5 s with the stats.
export const SCHEDULES_JS = String.raw`
async function loadSchedules() {
  const page = await api('GET', '/schedules?limit=500');
  $('schedules-empty').hidden = page.schedules.length > 0;
  $('schedules').replaceChildren(...page.schedules.map((schedule) => {
    const timing = schedule.cron !== null ? schedule.cron + ' (' + schedule.time_zone + ')' : 'every ' + formatDuration(schedule.interval_ms);
    const last = schedule.last_run
      ? el('button', { type: 'button', class: 'link', onclick: () => openDetail(schedule.last_run.job_id) }, formatTime(schedule.last_run.due_at))
      : 'never';
    const state = schedule.paused ? 'paused' : 'active';
    const toggle = el('button', { type: 'button', onclick: () => setPaused(schedule, !schedule.paused) }, schedule.paused ? 'Resume' : 'Pause');
    return el('tr', { id: 'schedule-' + schedule.schedule_id },
      el('td', { 'data-label': 'Schedule' }, schedule.name || schedule.schedule_id.slice(0, 8)),
      el('td', { 'data-label': 'Kind' }, schedule.job.kind),
      el('td', { 'data-label': 'When', class: 'mono' }, timing),
      el('td', { 'data-label': 'Next due', class: 'next-due' }, schedule.paused ? '' : formatTime(schedule.next_due_at)),
      el('td', { 'data-label': 'Last run', class: 'last-run' }, last),
      el('td', { 'data-label': 'Runs' }, schedule.runs_enqueued + (schedule.runs_skipped ? ' (' + schedule.runs_skipped + ' skipped)' : '')),
      el('td', { 'data-label': 'State' }, el('span', { class: 'status-' + state }, state)),
      el('td', { class: 'actions' }, toggle));
  }));
}

async function setPaused(schedule, paused) {
  try {
    await api('PATCH', '/schedules/' + schedule.schedule_id, JSON.stringify({ paused }), { 'content-type': 'application/json' });
    await loadSchedules();
  } catch (err) { say(err.message); }
}
`;
