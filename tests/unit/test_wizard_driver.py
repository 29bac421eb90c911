"""Who drives the calibration wizard: taken when free, refused to the others with the driver's name,
handed over to someone on the page, released, and released by itself after the idle time."""
import pytest

from live.driver import DriverRefused, Person, WizardDriver

ANNE, BRUNO, CLAIRE = Person(1, "anne"), Person(2, "bruno"), Person(3, "claire")


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def others_watch(who):
    """The rule of the policy: anyone may act while nobody drives, then only the driver."""
    return lambda holder: None if holder is None or holder.id == who.id else f"{holder.name} is driving"


@pytest.fixture
def driver():
    clock = Clock()
    wizard = WizardDriver(idle_s=300, clock=clock)
    wizard.clock = clock
    for client, person in (("sid-a", ANNE), ("sid-b", BRUNO)):
        wizard.join(client, person)
    return wizard


def test_the_first_to_act_drives_and_the_others_watch(driver):
    assert driver.state()["driver"] is None and driver.state()["present"] == ["anne", "bruno"]
    assert driver.acquire(ANNE, others_watch(ANNE)) is True
    assert driver.acquire(ANNE, others_watch(ANNE)) is False  # already hers: the clock starts again
    with pytest.raises(DriverRefused, match="anne is driving"):
        driver.acquire(BRUNO, others_watch(BRUNO))
    state = driver.state()
    assert state["driver"] == "anne" and state["driver_id"] == 1 and state["expires_in_s"] == 300


def test_hand_over_to_someone_on_the_page(driver):
    driver.acquire(ANNE, others_watch(ANNE))
    with pytest.raises(DriverRefused, match="only the technician driving"):
        driver.hand_over(BRUNO, "anne")
    with pytest.raises(DriverRefused, match="claire is not on the calibration page"):
        driver.hand_over(ANNE, "claire")
    assert driver.hand_over(ANNE, "bruno") == BRUNO
    assert driver.holder() == BRUNO
    with pytest.raises(DriverRefused, match="bruno is driving"):
        driver.acquire(ANNE, others_watch(ANNE))
    driver.release(ANNE)  # not hers: nothing happens
    assert driver.holder() == BRUNO
    driver.release(BRUNO)
    assert driver.holder() is None and driver.acquire(ANNE, others_watch(ANNE))


def test_released_after_the_idle_time_unless_busy(driver):
    driver.acquire(ANNE, others_watch(ANNE))
    driver.clock.now += 200
    driver.touch()  # the wizard captured a view: she is busy
    driver.clock.now += 200
    assert driver.holder() == ANNE and not driver.expired()
    assert driver.state()["expires_in_s"] == 100
    driver.clock.now += 101
    assert driver.expired() is True  # once: the pages are told
    assert driver.expired() is False and driver.holder() is None
    assert driver.acquire(BRUNO, others_watch(BRUNO)) is True


def test_presence_follows_the_clients(driver):
    assert driver.leave("sid-b") is True and driver.leave("sid-b") is False
    assert driver.state()["present"] == ["anne"]
    driver.acquire(ANNE, others_watch(ANNE))
    with pytest.raises(DriverRefused, match="bruno is not on the calibration page"):
        driver.hand_over(ANNE, "bruno")
